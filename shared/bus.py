"""The thin NATS JetStream layer every service shares.

- one stream (`OURO`, subjects `ouro.>`, limits retention) is the chronicle of every event;
- each service owns durable pull consumers with explicit ack, `ack_wait` and `max_deliver`,
  created *or updated* explicitly (a second `pull_subscribe` on an existing durable silently
  keeps the old config);
- several processes binding the same durable share its messages: that is the queue group
  that judge workers and evaluators scale out with;
- every delivery gets `in_progress()` heartbeats while its handler runs, so hours of training
  never hit `ack_wait`, while a killed worker's message is redelivered one `ack_wait` later;
- undecodable events and events that failed `max_deliver` times go to `ouro.dlq` with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from shared import metrics
from shared.events import STREAM_NAME, SUBJECT_OF, DeadLetter, Event, Subject, decode, derived_id, subject_of
from shared.nats_auth import ClientAuth, client_auth

log = logging.getLogger("ouro.bus")

# JetStream drops a republished event with the same Nats-Msg-Id inside this window; handlers
# are idempotent beyond it (registry markers), so this only has to cover a crash-and-redeliver.
DUPLICATE_WINDOW_S = 3600


class Poison(Exception):
    """A handler's verdict that an event can never succeed: dead-letter it, do not retry."""


@dataclass(frozen=True)
class ConsumerSpec:
    durable: str
    subjects: tuple[Subject, ...]
    ack_wait: float = 30.0
    max_deliver: int = 8
    # Each process handles one message at a time; this caps how many processes bound to the
    # durable work at once (1: a strictly serial stage such as the promoter).
    max_ack_pending: int = 1
    # Retries back off exponentially (2, 4, 8 ... s, at most `max_retry_delay`), so the default
    # 8 deliveries ride out about four minutes of a dependency being down before the DLQ.
    retry_delay: float = 2.0
    max_retry_delay: float = 120.0


Handler = Callable[[Event, "Delivery"], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """One row of a service's table: a durable and, per event type it takes, the handler that
    receives that type. The subjects follow from the types; a handler never down-casts."""

    durable: str
    routes: Mapping[type[Event], Callable[[Any, Delivery], Awaitable[None]]]
    ack_wait: float = 30.0
    max_deliver: int = 8
    max_ack_pending: int = 1
    retry_delay: float = 2.0
    max_retry_delay: float = 120.0

    @property
    def spec(self) -> ConsumerSpec:
        return ConsumerSpec(
            durable=self.durable, subjects=tuple(SUBJECT_OF[t] for t in self.routes), ack_wait=self.ack_wait,
            max_deliver=self.max_deliver, max_ack_pending=self.max_ack_pending, retry_delay=self.retry_delay,
            max_retry_delay=self.max_retry_delay,
        )

    async def dispatch(self, event: Event, delivery: Delivery) -> None:
        handler = self.routes.get(type(event))
        if handler is None:  # the durable filters on our subjects: only a misconfigured stream gets here
            raise Poison(f"{self.durable} takes {[t.__name__ for t in self.routes]}, not {type(event).__name__}")
        await handler(event, delivery)


class Delivery:
    """What a handler may know about the message it handles."""

    def __init__(self, msg: Msg) -> None:
        self._msg = msg

    @property
    def attempt(self) -> int:
        return self._msg.metadata.num_delivered

    async def in_progress(self) -> None:
        await self._msg.in_progress()


class Bus:
    def __init__(self, nc: NATS, service: str, replicas: int = 1) -> None:
        self.nc = nc
        self.replicas = replicas
        self.js: JetStreamContext = nc.jetstream()
        self.service = service
        self._closing: list[bool] = []

    @classmethod
    async def connect(
        cls, url: str, service: str, *, attempts: int = 0, max_backoff: float = 10.0, replicas: int = 1,
        auth: ClientAuth | None = None,
    ) -> Bus:
        """Connect, retrying with backoff (attempts=0: forever) and saying so in the log.

        `auth`: who to be on the bus; None: the settings' identity, else the operator's
        credentials in this data dir, else anonymous (`shared.nats_auth.client_auth`)."""
        auth = auth or client_auth("operator")
        delay, attempt = 0.5, 0
        closing: list[bool] = []  # set by close(): a disconnect then is the goodbye, not a fault

        async def on_error(err: Exception) -> None:  # nats-py's default logs a traceback per try
            if "permissions violation" in str(err).lower():  # our identity may not do that: a bug or an attack
                log.error("%s: refused by NATS: %s", service, err)
                return
            log.warning("%s: NATS at %s unreachable or failing (%s); retrying", service, url, err or type(err).__name__)

        async def on_disconnect() -> None:
            if closing:
                return
            log.warning("%s: disconnected from NATS; reconnecting", service)

        async def on_reconnect() -> None:
            log.info("%s: reconnected to NATS", service)

        while True:
            attempt += 1
            try:
                nc = await nats.connect(
                    url,
                    name=service,
                    # A service waits for NATS for ever; a CLI command gives up after `attempts`.
                    max_reconnect_attempts=attempts or -1,
                    reconnect_time_wait=1,
                    allow_reconnect=True,
                    connect_timeout=2,
                    error_cb=on_error,
                    disconnected_cb=on_disconnect,
                    reconnected_cb=on_reconnect,
                    **(auth.options() if auth else {}),
                )
                bus = cls(nc, service, replicas)
                bus._closing = closing
                try:
                    await bus.ensure_stream()
                except Exception:
                    await bus.close()
                    raise
                log.info("%s connected to %s", service, url)
                return bus
            except Exception as err:  # noqa: BLE001 - any connect failure is retried the same way
                if attempts and attempt >= attempts:
                    raise ConnectionError(f"{service}: NATS at {url} unreachable after {attempt} attempts") from err
                log.warning("%s: NATS at %s unreachable (%s); retrying in %.1f s", service, url, err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff)

    async def close(self) -> None:
        self._closing.append(True)
        with contextlib.suppress(Exception):
            await self.nc.drain()

    # ------------------------------------------------------------------ stream and publish

    async def ensure_stream(self) -> None:
        config = StreamConfig(
            name=STREAM_NAME,
            subjects=["ouro.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_S,
            max_msg_size=8 * 1024 * 1024,
            num_replicas=self.replicas,
        )
        try:
            current = (await self.js.stream_info(STREAM_NAME)).config
        except NotFoundError:
            await self.js.add_stream(config)
            return
        # Only an operator may change the stream: update it only when it differs from ours.
        if any(getattr(current, f) != getattr(config, f) for f in
               ("subjects", "retention", "storage", "duplicate_window", "max_msg_size", "num_replicas")):
            await self.js.update_stream(config)

    async def publish(self, event: Event) -> None:
        subject = subject_of(event)
        ack = await self.js.publish(
            subject.value, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id}
        )
        dup = " (duplicate, dropped)" if ack.duplicate else ""
        log.debug("%s published %s %s%s", self.service, subject.value, event.event_id, dup)

    # ------------------------------------------------------------------ buckets

    async def kv(self, bucket: str, history: int = 10) -> KeyValue:
        try:
            return await self.js.key_value(bucket)
        except BucketNotFoundError:
            with contextlib.suppress(Exception):
                return await self.js.create_key_value(bucket=bucket, history=history, replicas=self.replicas)
            return await self.js.key_value(bucket)  # created by a racing service

    async def object_store(self, bucket: str) -> ObjectStore:
        try:
            return await self.js.object_store(bucket)
        except (BucketNotFoundError, NotFoundError):
            with contextlib.suppress(Exception):
                config = ObjectStoreConfig(replicas=self.replicas)
                return await self.js.create_object_store(bucket=bucket, config=config)
            return await self.js.object_store(bucket)

    # ------------------------------------------------------------------ consuming

    async def ensure_consumer(self, spec: ConsumerSpec, deliver: DeliverPolicy | None = None) -> None:
        """Create the durable, or update its settings. A new durable starts from the beginning of
        the stream (`deliver`: ALL) so nothing published before the service first ran is missed;
        an existing one keeps its deliver policy, which JetStream does not allow to change."""
        if deliver is None:
            try:
                info = await self.js.consumer_info(STREAM_NAME, spec.durable)
                deliver = info.config.deliver_policy or DeliverPolicy.ALL
            except NotFoundError:
                deliver = DeliverPolicy.ALL
        config = ConsumerConfig(
            name=spec.durable,
            durable_name=spec.durable,
            filter_subjects=[s.value for s in spec.subjects],
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=deliver,
            ack_wait=spec.ack_wait,
            max_deliver=spec.max_deliver,
            max_ack_pending=spec.max_ack_pending,
        )
        # CONSUMER.CREATE with an existing name updates it: new ack_wait/max_deliver take effect.
        await self.js.add_consumer(STREAM_NAME, config)

    async def consume(self, spec: ConsumerSpec, handler: Handler, stop: asyncio.Event) -> None:
        await self.ensure_consumer(spec)
        advisories = await self.watch_give_ups(spec)
        sub = await self.js.pull_subscribe_bind(durable=spec.durable, stream=STREAM_NAME)
        log.info("%s consuming %s", self.service, ", ".join(s.value for s in spec.subjects))
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(1, timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.ConnectionClosedError:
                    return
                except Exception as err:  # noqa: BLE001 - reconnecting: keep polling
                    log.warning("%s fetch failed: %s", self.service, err)
                    await asyncio.sleep(1.0)
                    continue
                for msg in msgs:
                    try:
                        await self._deliver(spec, handler, msg)
                    except Exception:  # noqa: BLE001 - e.g. an ack lost in a reconnect: the
                        # message comes back after ack_wait; the loop must not die with it
                        log.exception("%s: delivery of %s not settled; it will be redelivered", self.service,
                                      msg.subject)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await advisories.unsubscribe()

    async def _deliver(self, spec: ConsumerSpec, handler: Handler, msg: Msg) -> None:
        subject = msg.subject
        deliveries = msg.metadata.num_delivered
        try:
            event = decode(subject, msg.data)
        except ValueError as err:
            # Covers pydantic's ValidationError too: a schema-invalid event never succeeds.
            await self.dead_letter(msg, f"undecodable event: {err}", deliveries)
            metrics.EVENTS_FAILED.labels(self.service, subject, "invalid").inc()
            await msg.term()
            return

        beat = asyncio.create_task(self._heartbeat(msg, spec.ack_wait / 3))
        started = time.monotonic()
        try:
            await handler(event, Delivery(msg))
        except Poison as err:
            log.error("%s: poison %s %s: %s", self.service, subject, event.event_id, err)
            metrics.EVENTS_FAILED.labels(self.service, subject, "poison").inc()
            await self.dead_letter(msg, str(err), deliveries, event.cycle_id)
            await msg.term()
        except Exception as err:  # noqa: BLE001 - a handler bug must not kill the service
            metrics.EVENTS_FAILED.labels(self.service, subject, "error").inc()
            if deliveries >= spec.max_deliver:
                log.exception("%s: %s failed %d times; dead-lettered", self.service, subject, deliveries)
                await self.dead_letter(msg, f"failed {deliveries} times: {err!r}", deliveries, event.cycle_id)
                await msg.term()
            else:
                delay = min(spec.retry_delay * 2 ** (deliveries - 1), spec.max_retry_delay)
                log.warning("%s: %s failed (attempt %d): %r; retrying in %.0f s", self.service, subject,
                            deliveries, err, delay)
                await msg.nak(delay=delay)
        else:
            await msg.ack_sync()
            metrics.EVENTS_HANDLED.labels(self.service, subject).inc()
        finally:
            beat.cancel()
            metrics.HANDLER_SECONDS.labels(self.service, subject).observe(time.monotonic() - started)

    async def watch_give_ups(self, spec: ConsumerSpec) -> Subscription:
        """Dead-letter what JetStream gives up on for this durable (its max-deliveries advisory)."""
        return await self.nc.subscribe(
            f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM_NAME}.{spec.durable}",
            queue=spec.durable,  # one process of the group reports it
            cb=functools.partial(self._gave_up, spec),
        )

    async def _gave_up(self, spec: ConsumerSpec, advisory: Msg) -> None:
        """JetStream stopped redelivering a message whose last delivery was never settled: the
        process handling it died or hung. Nobody else will say so: dead-letter it here."""
        try:
            seq = json.loads(advisory.data)["stream_seq"]
            raw = await self.js.get_msg(STREAM_NAME, seq)
            try:
                cycle_id = decode(raw.subject, raw.data).cycle_id
            except ValueError:
                cycle_id = "unknown"
            reason = (f"{spec.durable}: gave up after {spec.max_deliver} deliveries that never finished "
                      "(the handling process died or hung each time)")
            await self.publish(DeadLetter(
                event_id=derived_id("max-deliveries", spec.durable, str(seq)), cycle_id=cycle_id,
                service=self.service, original_subject=raw.subject, reason=reason,
                payload=raw.data.decode("utf-8", errors="replace")[:100_000], deliveries=spec.max_deliver,
            ))
            metrics.DEAD_LETTERS.labels(self.service, raw.subject).inc()
        except Exception:  # noqa: BLE001 - an advisory we cannot act on must not break the subscription
            log.exception("%s: could not dead-letter after a max-deliveries advisory", self.service)

    @staticmethod
    async def _heartbeat(msg: Msg, every: float) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(every)
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def dead_letter(self, msg: Msg, reason: str, deliveries: int, cycle_id: str = "unknown") -> None:
        metrics.DEAD_LETTERS.labels(self.service, msg.subject).inc()
        await self.publish(
            DeadLetter(
                cycle_id=cycle_id,
                service=self.service,
                original_subject=msg.subject,
                reason=reason[:2000],
                payload=msg.data.decode("utf-8", errors="replace")[:100_000],
                deliveries=deliveries,
            )
        )

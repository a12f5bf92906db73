"""Who may do what on the bus: one NATS user per identity, with subject permissions as data.

    from shared.nats_auth import ensure_credentials, client_auth
    creds = ensure_credentials(data_dir / "auth")       # first start: passwords + server config (0600)
    python -m shared.nats_auth deploy/secrets             # the same (+ TLS, tokens) for compose and K8s
    nats-server -c <data_dir>/auth/nats.conf ...         # anonymous clients are refused
    auth = client_auth("operator")                      # OURO_NATS_USER/..., else this data dir's file

Each service connects as its own identity and may publish exactly its output subjects, drive
exactly its own durables and touch exactly the KV keys and buckets it owns. In the registry that
means: the trainer writes `checkpoint.*`, the evaluator `done.eval*`, and only the promoter (and
the operator, for `ouro rollback`) write `champion.*` and `archive.*`. The emitter (git hook,
session logger) may publish `commits.new` and `sessions.new` and nothing else. Every identity
reads replies only under its own inbox prefix (`_INBOX_<name>.`), so no one can listen in on
another's JetStream answers. `admin` may do everything; no process of the loop uses it (it is
for maintenance and the tests' inspection).

The server config is JSON (a subset of the NATS config language, and no `$` variable expansion
inside quoted strings, which the `$JS`/`$KV` subjects need).
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from shared.events import PROGRESS_SUBJECT, STREAM_NAME, Subject

S = Subject
API = "$JS.API"
REGISTRY, HARVESTER_KV, JUDGE_KV, ARTIFACTS = "ouro-registry", "ouro-harvester", "ouro-judge", "ouro-artifacts"
SERVER_CONFIG = "nats.conf"


@dataclass(frozen=True)
class Identity:
    name: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


@dataclass
class _Rights:
    pub: list[str] = field(default_factory=list)
    sub: list[str] = field(default_factory=list)

    def __add__(self, other: _Rights) -> _Rights:
        return _Rights(self.pub + other.pub, self.sub + other.sub)


def _publishes(*subjects: Subject) -> _Rights:
    return _Rights(pub=[s.value for s in subjects])


def _stream_reader(stream: str) -> _Rights:
    """Look a stream up, read single messages, follow it with ordered (ephemeral) consumers."""
    return _Rights(pub=[
        f"{API}.STREAM.NAMES", f"{API}.STREAM.INFO.{stream}", f"{API}.STREAM.MSG.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}", f"{API}.DIRECT.GET.{stream}.>", f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.INFO.{stream}.*", f"{API}.CONSUMER.DELETE.{stream}.*", f"$JS.FC.{stream}.>",
    ])


def _bus_member() -> _Rights:
    """What `Bus.connect` does: find the OURO stream (create it on a new server), report failures."""
    return _Rights(pub=[f"{API}.INFO", f"{API}.STREAM.INFO.{STREAM_NAME}", f"{API}.STREAM.CREATE.{STREAM_NAME}",
                        S.DLQ.value])


def _durable(name: str) -> _Rights:
    """Create/update, pull from and ack on its own durable; hear JetStream give up on it; read the
    message it gave up on (to dead-letter it)."""
    return _Rights(
        pub=[f"{API}.CONSUMER.CREATE.{STREAM_NAME}.{name}", f"{API}.CONSUMER.CREATE.{STREAM_NAME}.{name}.>",
             f"{API}.CONSUMER.DURABLE.CREATE.{STREAM_NAME}.{name}", f"{API}.CONSUMER.INFO.{STREAM_NAME}.{name}",
             f"{API}.CONSUMER.MSG.NEXT.{STREAM_NAME}.{name}", f"$JS.ACK.{STREAM_NAME}.{name}.>",
             f"{API}.STREAM.MSG.GET.{STREAM_NAME}", f"{API}.DIRECT.GET.{STREAM_NAME}"],
        sub=[f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM_NAME}.{name}"],
    )


def _kv(bucket: str, write: tuple[str, ...] = (">",)) -> _Rights:
    """Read a KV bucket (get, keys, watch), create it if missing, and write the keys in `write`."""
    return _stream_reader(f"KV_{bucket}") + _Rights(
        pub=[f"{API}.STREAM.CREATE.KV_{bucket}", *(f"$KV.{bucket}.{k}" for k in write)])


def _objects(bucket: str, write: bool) -> _Rights:
    """Read an object store; with `write`, also put and delete (chunks, meta, purge of old chunks)."""
    rights = _stream_reader(f"OBJ_{bucket}") + _Rights(pub=[f"{API}.STREAM.CREATE.OBJ_{bucket}"])
    if write:
        rights += _Rights(pub=[f"$O.{bucket}.>", f"{API}.STREAM.PURGE.OBJ_{bucket}"])
    return rights


def _identity(name: str, rights: _Rights) -> Identity:
    inbox = f"_INBOX_{name}.>"
    return Identity(name, tuple(dict.fromkeys(rights.pub)), tuple(dict.fromkeys([*rights.sub, inbox])))


# Identity → rights. A new consumer, bucket or output subject of a service is one line here.
IDENTITIES: dict[str, Identity] = {i.name: i for i in [
    # reads the champions (registry) and the corpus manifests (judge) for its self-description
    _identity("harvester", _bus_member() + _durable("harvester") + _kv(HARVESTER_KV)
              + _kv(REGISTRY, write=()) + _kv(JUDGE_KV, write=())
              + _publishes(S.EXAMPLES_HARVESTED, S.HARVEST_COMPLETED, S.HARVEST_REQUESTED)),  # + its schedule
    _identity("judge", _bus_member() + _durable("judge-filter") + _durable("judge-assembler") + _kv(JUDGE_KV)
              + _objects(ARTIFACTS, write=True) + _publishes(S.DATASET_READY, S.CORPUS_UPDATED, S.TRAIN_REQUESTED)),
    _identity("trainer", _bus_member() + _durable("trainer") + _kv(REGISTRY, write=("checkpoint.>",))
              + _objects(ARTIFACTS, write=True) + _publishes(S.CHECKPOINT_READY) + _Rights(pub=[PROGRESS_SUBJECT])),
    _identity("evaluator", _bus_member() + _durable("evaluator")
              # writes its per-prompt eval reports (evals/...) to the artifact store
              + _kv(REGISTRY, write=("done.eval.>", "done.evalcache.>")) + _objects(ARTIFACTS, write=True)
              + _publishes(S.EVAL_COMPLETED) + _Rights(pub=[PROGRESS_SUBJECT])),
    _identity("promoter", _bus_member() + _durable("promoter")
              + _kv(REGISTRY, write=("champion.>", "archive.>", "done.decision.>")) + _objects(ARTIFACTS, write=False)
              + _publishes(S.MODEL_PROMOTED, S.MODEL_REJECTED, S.HARVEST_REQUESTED)),
    # The git hook and the session loggers: two subjects, nothing else (not even the stream's info).
    _identity("emitter", _publishes(S.COMMITS_NEW, S.SESSIONS_NEW)),
    # `ouro cycle|status|history|rollback`: start a cycle, read everything, move a champion back.
    _identity("operator", _bus_member() + _stream_reader(STREAM_NAME)
              + _Rights(pub=[f"{API}.CONSUMER.LIST.{STREAM_NAME}", f"{API}.CONSUMER.NAMES.{STREAM_NAME}"])
              + _kv(REGISTRY, write=("champion.>", "archive.>")) + _kv(HARVESTER_KV, write=())
              + _kv(JUDGE_KV, write=()) + _objects(ARTIFACTS, write=False)
              + _publishes(S.HARVEST_REQUESTED) + _Rights(sub=[PROGRESS_SUBJECT])),  # live progress, never stored
    # The serving router: which adapter is champion (and its files), and the sessions it serves.
    _identity("router", _bus_member() + _kv(REGISTRY, write=()) + _objects(ARTIFACTS, write=False)
              + _publishes(S.SESSIONS_NEW)),
    Identity("admin", (">",), (">",)),
]}


# ---------------------------------------------------------------- the server side


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    ca: Path


def server_config(passwords: dict[str, str], tls: Tls | None = None) -> dict[str, object]:
    """The nats-server config: one user per identity with its permissions; nobody else gets in."""
    users = [
        {"user": i.name, "password": passwords[i.name],
         "permissions": {"publish": {"allow": list(i.publish)}, "subscribe": {"allow": list(i.subscribe)}}}
        for i in IDENTITIES.values()
    ]
    config: dict[str, object] = {"authorization": {"users": users}}
    if tls:
        config["tls"] = {"cert_file": str(tls.cert), "key_file": str(tls.key), "ca_file": str(tls.ca),
                         "timeout": 5}
    return config


def write_private(path: Path, text: str) -> None:
    """Write a secret file: created 0600 from the first byte (no window where others could read it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def ensure_credentials(auth_dir: Path, tls: Tls | None = None) -> Path:
    """Create a password per identity the first time (kept and reused afterwards) and (re)write
    the server config from them; every file 0600. Returns the server config's path."""
    auth_dir = Path(auth_dir)
    passwords = {}
    for name in IDENTITIES:
        path = auth_dir / f"{name}.password"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(32))
        passwords[name] = path.read_text().strip()
    config = auth_dir / SERVER_CONFIG
    write_private(config, json.dumps(server_config(passwords, tls), indent=2))
    return config


# ---------------------------------------------------------------- the client side


@dataclass(frozen=True)
class ClientAuth:
    user: str
    password: str
    ca: Path | None = None  # verify the server's certificate against this CA (TLS)

    def options(self) -> dict[str, object]:
        """Keyword arguments for `nats.connect`."""
        opts: dict[str, object] = {}
        if self.user:
            opts |= {"user": self.user, "password": self.password, "inbox_prefix": f"_INBOX_{self.user}"}
        if self.ca:
            opts["tls"] = ssl.create_default_context(cafile=str(self.ca))
        return opts


def read_auth(auth_dir: Path, identity: str, ca: Path | None = None) -> ClientAuth:
    return ClientAuth(identity, (Path(auth_dir) / f"{identity}.password").read_text().strip(), ca)


def client_auth(default_identity: str, settings: object | None = None) -> ClientAuth | None:
    """The credentials a client connects with: `OURO_NATS_USER` with `OURO_NATS_PASSWORD` or
    `OURO_NATS_PASSWORD_FILE` when set; else `default_identity`'s password from this data dir's
    `auth/` (what `ouro up` wrote); else none (a server without auth)."""
    from shared.settings import CommonSettings

    s = settings if isinstance(settings, CommonSettings) else CommonSettings()
    auth_dir = s.data_dir / "auth"
    local_ca = auth_dir / "tls" / "ca.pem"
    ca = s.nats_ca or (local_ca if s.nats_url.startswith("tls://") and local_ca.exists() else None)
    if s.nats_user:
        password = s.nats_password.get_secret_value()
        if s.nats_password_file:
            password = Path(s.nats_password_file).read_text().strip()
        return ClientAuth(s.nats_user, password, ca)
    if (auth_dir / f"{default_identity}.password").exists():
        return read_auth(auth_dir, default_identity, ca)
    return ClientAuth("", "", ca) if ca else None


# ---------------------------------------------------------------- the matrix, for people


def permission_matrix() -> str:
    """IDENTITIES as a Markdown table (identity × subject × pub/sub), read back from the very
    subjects the server enforces; deploy/README.md carries it (a test keeps the two equal)."""
    rows = ["| identity | publishes | pulls from durable | KV read | KV write (keys) | object store | subscribes |",
            "|---|---|---|---|---|---|---|"]
    for i in IDENTITIES.values():
        if i.publish == (">",):
            rows.append(f"| `{i.name}` | everything (`>`) | any | any | any | read, write | everything (`>`) |")
            continue
        pub = set(i.publish)
        events = [f"`{x}`" for x in i.publish if not x.startswith(("$", "_INBOX"))]
        if f"{API}.CONSUMER.CREATE.{STREAM_NAME}" in pub:
            events.append(f"(reads stream `{STREAM_NAME}`)")
        durables = [f"`{x.rsplit('.', 1)[1]}`" for x in i.publish if x.startswith(f"{API}.CONSUMER.MSG.NEXT.")]
        kv_read = [f"`{x.removeprefix(f'{API}.STREAM.INFO.KV_')}`" for x in i.publish
                   if x.startswith(f"{API}.STREAM.INFO.KV_")]
        kv_write = [f"`{x.removeprefix('$KV.')}`" for x in i.publish if x.startswith("$KV.")]
        objects = [f"`{x.removeprefix(f'{API}.STREAM.INFO.OBJ_')}` "
                   + ("read, write" if f"$O.{x.removeprefix(f'{API}.STREAM.INFO.OBJ_')}.>" in pub else "read")
                   for x in i.publish if x.startswith(f"{API}.STREAM.INFO.OBJ_")]
        subs = [f"`{x}`" for x in i.subscribe]
        cells = [", ".join(c) or "—" for c in (events, durables, kv_read, kv_write, objects, subs)]
        rows.append(f"| `{i.name}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------- deployments


def helm_users() -> list[dict[str, object]]:
    """The `authorization.users` of deploy/k8s/nats-values.yaml: the same permissions, each
    password taken from the server's environment (`<< $VAR >>`, filled from the ouro-nats-auth Secret)."""
    return [{"user": i.name, "password": f"<< ${password_env(i.name)} >>",
             "permissions": {"publish": {"allow": list(i.publish)}, "subscribe": {"allow": list(i.subscribe)}}}
            for i in IDENTITIES.values()]


def password_env(identity: str) -> str:
    return f"NATS_PASSWORD_{identity.upper()}"


# Where compose mounts the files below inside the containers (`secrets:` targets in compose.yaml).
IN_CONTAINER = Path("/run/secrets")
DEPLOY_TLS = Tls(cert=IN_CONTAINER / "nats-server.pem", key=IN_CONTAINER / "nats-server-key.pem",
                 ca=IN_CONTAINER / "nats-ca.pem")
# Bearer tokens of the deployment's HTTP endpoints: /metrics (Prometheus scrapes with it), vLLM's
# --api-key (the evaluator, promoter and router send it), the router's API (its clients send it).
DEPLOY_TOKENS = ("metrics-token", "vllm-api-key", "router-api-key")


def write_deploy_secrets(out: Path) -> None:
    """The files compose and `kubectl create secret` take: <identity>.password, nats.conf (TLS on,
    certificate paths as mounted in the nats container), the tokens in DEPLOY_TOKENS, and under
    `tls/` the project's CA and the server certificate (`shared/nats_tls.py`). Existing ones are kept.

    Compose bind-mounts secret files with their host mode, and the services run as uid 10001, so
    the files are 0644 inside a 0700 directory: the directory is what keeps them private. The CA's
    key stays 0600: no container needs it, and K8s never gets it (deploy/README.md)."""
    from shared.nats_tls import ensure_tls

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    ensure_tls(out / "tls")
    ensure_credentials(out, DEPLOY_TLS)
    for name in DEPLOY_TOKENS:
        if not (out / name).exists():
            write_private(out / name, secrets.token_urlsafe(32))
    for path in [*out.iterdir(), *(out / "tls").iterdir()]:
        if path.is_file():
            path.chmod(0o600 if path.name == "ca-key.pem" else 0o644)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="secrets for compose/K8s: NATS passwords, nats.conf, TLS, tokens")
    parser.add_argument("out", type=Path, nargs="?",
                        help="directory to write (e.g. deploy/secrets); existing passwords kept")
    parser.add_argument("--matrix", action="store_true", help="print the permission matrix (Markdown) instead")
    args = parser.parse_args()
    if args.matrix:
        print(permission_matrix(), end="")
    elif args.out is None:
        parser.error("give the directory to write, or --matrix")
    else:
        write_deploy_secrets(args.out)

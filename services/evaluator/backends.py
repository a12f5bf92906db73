"""Generation backends: one Protocol, two ways to get greedy completions for chat prompts.

`TransformersBackend` runs the base model (plus an optional LoRA adapter) in-process, batched.
`OpenAIBackend` talks to any OpenAI-compatible server (vLLM with `--enable-lora` in production)
over HTTP; vLLM does not run on the CPU machines, so that boundary is tested against
`services.evaluator.local_server`, a small stand-in that serves a `TransformersBackend`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import httpx

from shared.chat_client import ChatEndpoint, ChatError, complete

Chat = list[dict[str, str]]


class BackendError(RuntimeError):
    pass


class Backend(Protocol):
    def generate(self, prompts: list[Chat], max_new_tokens: int) -> list[str]: ...


class TransformersBackend:
    """Greedy, left-padded, batched generation with transformers; the adapter is merged in."""

    def __init__(self, base_model_dir: Path, adapter_dir: Path | None = None, *, batch_size: int = 8) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from shared.models import offline

        offline()
        if batch_size < 1:
            raise ValueError("`batch_size` must be at least 1")
        self.batch_size = batch_size
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(base_model_dir, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(base_model_dir, dtype=dtype)
        if adapter_dir is not None:
            from peft import PeftModel

            # Merged weights generate as fast as the bare base model.
            model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        self.model = model.to(self.device).eval()

    def generate(self, prompts: list[Chat], max_new_tokens: int) -> list[str]:
        import torch

        texts = [self.tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        # Batches of similar length waste less compute on padding; answers go back in prompt order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        outputs: list[str] = [""] * len(texts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            with torch.inference_mode():
                generated = self.model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            new_tokens = generated[:, batch["input_ids"].shape[1] :]
            for i, text in zip(chunk, self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True):
                outputs[i] = text.strip()
        return outputs


class OpenAIBackend:
    """POST /v1/chat/completions, temperature 0, a few requests in flight (the server batches them)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 120.0,
        concurrency: int = 8,
    ) -> None:
        # one chat call for every OpenAI-compatible client of the project (shared/chat_client.py)
        self.endpoint = ChatEndpoint(url=base_url, model=model, api_key=api_key, timeout_s=timeout_s)
        self.url = self.endpoint.completions
        self.model = model
        self.concurrency = concurrency
        self._client = httpx.Client()

    def _complete(self, messages: Chat, max_new_tokens: int) -> str:
        try:
            return complete(self.endpoint, messages, max_tokens=max_new_tokens, client=self._client)
        except ChatError as exc:
            raise BackendError(str(exc)) from exc

    def generate(self, prompts: list[Chat], max_new_tokens: int) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda p: self._complete(p, max_new_tokens), prompts))

    def close(self) -> None:
        self._client.close()

"""LoRA / QLoRA supervised fine-tuning of one specialist adapter: the trainer's pure core.

    python -m services.trainer.worker --dataset DIR --base DIR --out DIR --config-json '{"max_steps": 8}'

One recipe, setup → train → save: load the judge's dataset (`DIR/data`, a `messages` column),
load the base model (4-bit QLoRA on CUDA, fp32 LoRA on CPU: the only branch is in
`load_base_model`), run TRL's `SFTTrainer` with a peft `LoraConfig`, and write only the adapter,
the tokenizer and `train_metrics.json` to the output directory.

Loss: assistant tokens only (`assistant_only_loss`). That needs `{% generation %}` markers in the
chat template; the ChatML template of SmolLM2 (and the tiny test model) has none and TRL ships no
patched version of it, so for ChatML tokenizers we train with `CHATML_TRAINING_TEMPLATE`, which
renders the same text and marks each assistant turn including its `<|im_end|>` (so the model
learns to stop). Other templates go to TRL as they are, which patches the ones it knows.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.events import TrainMetrics

# Same rendering as ChatML; only the assistant span (content and end-of-turn) is marked for loss.
CHATML_TRAINING_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] }}"
    # tool calls the assistant made (multi-turn examples), in the Hermes/Qwen ChatML convention
    "{% for call in message['tool_calls'] or [] %}"
    "{{ ('\n' if message['content'] or not loop.first else '') + '<tool_call>\n{\"name\": \"'"
    " + call['function']['name'] + '\", \"arguments\": '"
    " + call['function']['arguments'] + '}\n</tool_call>' }}"
    "{% endfor %}"
    "{{ '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 2.0
    lora_r: int = 32
    lora_alpha: int = 64
    lora_dropout: float = 0.05
    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 512
    max_steps: int = -1  # a cap for CPU demo runs; -1 trains `epochs` full epochs
    max_examples: int = 0  # 0 = the whole dataset
    # Batches of rows of similar length: harvested rows run from ~20 to max_length tokens, and random
    # batches of 4 padded to their longest spent ~29% of the compute on padding (892 rows of a real
    # cycle, benchmarks/bench_train_cost.py); grouped, ~1%. Shuffled in groups, still random.
    group_by_length: bool = True
    seed: int = 0
    target_modules: str | tuple[str, ...] = "all-linear"

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = json.loads(text) if text else {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        if isinstance(data.get("target_modules"), list):
            data["target_modules"] = tuple(data["target_modules"])
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class DatasetError(ValueError):
    pass


def load_dataset_dir(dataset_dir: Path, max_examples: int = 0) -> Any:
    """The judge's dataset with only the `messages` column that SFT trains on."""
    from datasets import load_from_disk

    path = dataset_dir / "data"
    if not path.exists():
        raise DatasetError(f"`dataset_dir` {dataset_dir} has no `data` directory (datasets.save_to_disk)")
    dataset = load_from_disk(str(path))
    if "messages" not in dataset.column_names:
        raise DatasetError(f"dataset at {path} has no `messages` column: {dataset.column_names}")
    dataset = dataset.remove_columns([c for c in dataset.column_names if c != "messages"])
    if max_examples:
        dataset = dataset.select(range(min(max_examples, len(dataset))))
    if len(dataset) == 0:
        raise DatasetError(f"dataset at {path} is empty")
    return dataset


def load_base_model(base_model_dir: Path) -> tuple[Any, str]:
    """The base model ready for LoRA, and the method: `qlora` on CUDA, `lora` (fp32) on CPU."""
    import torch
    from transformers import AutoModelForCausalLM

    if torch.cuda.is_available():
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
        model = AutoModelForCausalLM.from_pretrained(
            base_model_dir, quantization_config=quant, dtype=torch.bfloat16, device_map={"": 0}
        )
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=True), "qlora"
    return AutoModelForCausalLM.from_pretrained(base_model_dir, dtype=torch.float32), "lora"


def train_adapter(dataset_dir: Path, base_model_dir: Path, out_dir: Path, config: TrainConfig,
                  init_adapter: Path | None = None, callbacks: list[Any] | None = None) -> TrainMetrics:
    """Train one LoRA adapter on the dataset; write it to `out_dir` and return its metrics.

    With `init_adapter` (the champion's), training continues that adapter — its rank and target
    modules, its weights as the starting point — instead of initialising a fresh one.
    """
    import torch
    from peft import LoraConfig
    from transformers import AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer
    from trl.chat_template_utils import has_generation_markers

    from shared.models import offline

    offline()
    started = time.monotonic()
    dataset_dir, base_model_dir, out_dir = Path(dataset_dir), Path(base_model_dir), Path(out_dir)
    dataset = load_dataset_dir(dataset_dir, config.max_examples)
    set_seed(config.seed)  # before the model: PEFT initialises the adapter randomly
    model, method = load_base_model(base_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    inference_template = tokenizer.chat_template
    if "<|im_start|>" in (inference_template or "") and not has_generation_markers(inference_template):
        tokenizer.chat_template = CHATML_TRAINING_TEMPLATE
    cuda = torch.cuda.is_available()
    target = config.target_modules if isinstance(config.target_modules, str) else list(config.target_modules)
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=target,
        bias="none",
        task_type="CAUSAL_LM",
    )
    args = SFTConfig(
        output_dir=str(out_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        max_length=config.max_length,
        assistant_only_loss=True,
        seed=config.seed,
        data_seed=config.seed,
        bf16=cuda,
        activation_checkpointing=cuda,  # memory matters on the GPU; on CPU it only costs time
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        include_num_input_tokens_seen="non_padding",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        dataloader_num_workers=0,
        use_cpu=not cuda,
        disable_tqdm=True,
    )
    if init_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
        lora = None
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=lora,
                         callbacks=callbacks)  # e.g. the worker's progress lines
    trainer.train()

    losses = [float(log["loss"]) for log in trainer.state.log_history if "loss" in log]
    if not losses or not all(math.isfinite(x) for x in losses):
        raise RuntimeError(f"training produced no finite loss: {losses}")
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(out_dir)
    tokenizer.chat_template = inference_template  # serve with the template the base model ships
    tokenizer.save_pretrained(out_dir)
    # One step's loss is noisy (batches differ in difficulty): report the means of the first and
    # last quarter-ish of steps, at most five each, so "loss went down" compares like with like.
    window = max(1, min(5, len(losses) // 4))
    metrics = TrainMetrics(
        method=method,
        device="cuda" if cuda else "cpu",
        examples=len(dataset),
        steps=trainer.state.global_step,
        epochs=float(trainer.state.epoch or 0.0),
        train_loss=round(sum(losses[-window:]) / window, 4),
        first_loss=round(sum(losses[:window]) / window, 4),
        tokens=int(trainer.state.num_input_tokens_seen),
        duration_s=round(time.monotonic() - started, 3),
    )
    (out_dir / "train_metrics.json").write_text(metrics.model_dump_json(indent=2))
    return metrics

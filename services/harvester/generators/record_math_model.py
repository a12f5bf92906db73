"""record_math's questions on the base model, its adapter and training (see record_math.py): LoRA
parameter counts from the model card and the rank, memory of the adapter and of the key/value
cache, the parameter count of the base model, optimizer steps and the learning-rate schedule.
Each returns a `Problem` whose every value is computed here, or None when the record lacks a fact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.harvester.plan import LoopRecord

MIB = 1048576

# Stated premises (shown in the prompt wherever used): round, plausible sizes for the loop.
DATASET = 1200  # examples in a judged dataset
BATCH = 4  # examples per optimizer step (the trainer's default batch, no accumulation)
PER_HARVEST = 35  # new examples one harvest keeps
PARAM_BUDGET = 1000000
NEW_RANK = 48
AUTO_REQUESTS = 250
QUOTA = 90  # examples of the first fixed-share category
BASE_OVERALL = 0.12
ANSWER_WORDS, TOKENS_PER_WORD, PROMPT_TOKENS = 512, 1.25, 150
SCORE_SHARES = (0.35, 0.5, 0.6, 0.45, 0.7, 0.3, 0.55, 0.4, 0.65)  # premise: share right per category


@dataclass(frozen=True)
class Problem:
    shape: str  # which question this is (one of each per record)
    given: tuple[str, ...]  # the facts the answer uses, one per line of the prompt
    question: str
    steps: tuple[str, ...]  # one equation per step, every value computed
    so: str  # the conclusion in words
    value: int | float  # the final answer

    def answer_text(self) -> str:
        return str(self.value)


def num(x: float) -> str:
    """A record value as the prompt shows it: 7776000.0 seconds reads as 7776000."""
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def pct(x: float) -> float:
    return round(x, 2)


@dataclass(frozen=True)
class Card:
    h: int  # hidden size
    layers: int
    heads: int
    kv: int  # key/value heads
    hd: int  # head width
    inter: int | None  # MLP width
    vocab: int | None
    ctx: int | None
    tied: bool | None

    @property
    def kvw(self) -> int:  # k_proj / v_proj output width
        return self.kv * self.hd

    def facts(self, *, mlp: bool = False, vocab: bool = False) -> str:
        text = (f"base model: {self.layers} decoder layers, hidden size {self.h}, {self.heads} attention heads, "
                f"{self.kv} key/value heads")
        if mlp and self.inter:
            text += f", MLP width {self.inter}"
        if vocab and self.vocab:
            text += f", vocabulary {self.vocab} tokens" + (", input and output embeddings tied" if self.tied else "")
        return text

    def kv_steps(self) -> list[str]:
        return [f"Each head is hidden ÷ heads wide: {self.h} ÷ {self.heads} = {self.hd}.",
                f"k_proj and v_proj output one head width per key/value head: {self.kv} × {self.hd} = {self.kvw}."]

    def matrices(self) -> list[tuple[str, int, int]]:
        """(name, in, out) of the linear projections in one layer, as a Llama-style block has them."""
        out = [("q_proj", self.h, self.h), ("k_proj", self.h, self.kvw), ("v_proj", self.h, self.kvw),
               ("o_proj", self.h, self.h)]
        if self.inter:
            out += [("gate_proj", self.h, self.inter), ("up_proj", self.h, self.inter),
                    ("down_proj", self.inter, self.h)]
        return out


def card(r: LoopRecord) -> Card | None:
    c = dict(r.model_card)
    h, layers, heads = c.get("hidden_size"), c.get("num_hidden_layers"), c.get("num_attention_heads")
    kv = c.get("num_key_value_heads")
    if not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in (h, layers, heads, kv)):
        return None
    if h % heads or heads % kv or c.get("head_dim", h // heads) != h // heads:
        return None  # a head width the hidden size does not give: the steps would not derive it
    def opt(k: str) -> int | None:
        v = c.get(k)
        return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None
    tied = c.get("tie_word_embeddings")
    return Card(h, layers, heads, kv, h // heads, opt("intermediate_size"), opt("vocab_size"),
                opt("max_position_embeddings"), tied if isinstance(tied, bool) else None)


def rank(r: LoopRecord) -> int | None:
    v = dict(r.training).get("lora_r")
    return v if isinstance(v, int) and v > 0 else None


def lora_steps(c: Card, r: int, names: tuple[str, ...] | None = None) -> tuple[list[str], int]:
    """Per projection r × (in + out), summed over one layer: the steps and the per-layer total."""
    steps, terms = [], []
    for name, i, o in c.matrices():
        if names is None or name in names:
            steps.append(f"{name} ({i} in, {o} out): {r} × ({i} + {o}) = {r * (i + o)}.")
            terms.append(r * (i + o))
    steps.append(f"One layer: {' + '.join(map(str, terms))} = {sum(terms)}.")
    return steps, sum(terms)


def base_params(c: Card) -> tuple[list[str], int] | None:
    if c.inter is None or c.vocab is None or c.tied is None:
        return None
    attn = 2 * c.h * c.h + 2 * c.h * c.kvw
    mlp = 3 * c.h * c.inter
    layer = attn + mlp + 2 * c.h
    emb = c.vocab * c.h
    head = 0 if c.tied else emb
    total = emb + c.layers * layer + c.h + head
    steps = [*c.kv_steps(),
             f"Attention weights per layer (q_proj, o_proj {c.h} × {c.h}; k_proj, v_proj {c.h} × {c.kvw}): "
             f"2 × {c.h} × {c.h} + 2 × {c.h} × {c.kvw} = {attn}.",
             f"MLP weights per layer (gate, up, down): 3 × {c.h} × {c.inter} = {mlp}.",
             f"One layer with its two norm vectors: {attn} + {mlp} + 2 × {c.h} = {layer}.",
             f"Embedding table: {c.vocab} × {c.h} = {emb}.",
             (f"Total (tied output head, final norm {c.h}): {emb} + {c.layers} × {layer} + {c.h} = {total}."
              if c.tied else
              f"Total (separate output head, final norm {c.h}): {emb} + {c.layers} × {layer} + {c.h} + {emb} "
              f"= {total}.")]
    return steps, total


_LORA_RULE = "A LoRA pair on a weight with `in` inputs and `out` outputs trains r × (in + out) parameters."
_LLAMA = ("Each layer has the Llama projections: 4 in attention (q_proj, k_proj, v_proj, o_proj) and 3 in the "
          "MLP (gate_proj, up_proj, down_proj); each layer also has 2 norm vectors of hidden size, plus one final "
          "norm.")


# ---------------------------------------------------------------------------- the questions


def p_kv_width(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or c.kv == c.heads:
        return None
    return Problem("kv_width", (c.facts(),),
                   "How many values does k_proj output per token, when several query heads share each key/value "
                   "head?", (*c.kv_steps(), f"Query heads per key/value head: {c.heads} ÷ {c.kv} = {c.heads // c.kv}."),
                   f"So k_proj outputs {c.kvw} values per token: one {c.hd}-wide head for each of the {c.kv} "
                   f"key/value heads, each shared by {c.heads // c.kv} query heads.", c.kvw)


def p_lora_q(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or (k := rank(r)) is None:
        return None
    a, b = k * c.h, c.h * k
    return Problem("lora_q", (c.facts(), f"LoRA rank r = {k}"),
                   f"A LoRA pair on q_proj is A (r × in) and B (out × r). How many parameters does it add to one "
                   f"layer's q_proj, and to the q_proj of all {c.layers} layers?",
                   (f"q_proj maps {c.h} to {c.h}. A: {k} × {c.h} = {a}.", f"B: {c.h} × {k} = {b}.",
                    f"One layer: {a} + {b} = {a + b}.", f"All layers: {c.layers} × {a + b} = {c.layers * (a + b)}."),
                   f"So q_proj's adapters add {a + b} parameters per layer and {c.layers * (a + b)} across the "
                   "model.", c.layers * (a + b))


def p_lora_qv(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or (k := rank(r)) is None:
        return None
    steps, per = lora_steps(c, k, ("q_proj", "v_proj"))
    total = c.layers * per
    return Problem("lora_qv", (c.facts(), f"LoRA rank r = {k}", _LORA_RULE),
                   "If the adapter wrapped only q_proj and v_proj, how many trainable parameters would it have?",
                   (*c.kv_steps(), *steps, f"All {c.layers} layers: {c.layers} × {per} = {total}."),
                   f"So a q_proj + v_proj adapter of rank {k} trains {total} parameters.", total)


def p_lora_all(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or c.inter is None or (k := rank(r)) is None:
        return None
    steps, per = lora_steps(c, k)
    total = c.layers * per
    return Problem("lora_all", (c.facts(mlp=True), f"LoRA rank r = {k}, on every linear projection", _LORA_RULE,
                                _LLAMA.split(";")[0] + "."),
                   "How many trainable parameters does the adapter have in total?",
                   (*c.kv_steps(), *steps, f"All {c.layers} layers: {c.layers} × {per} = {total}."),
                   f"So the rank-{k} adapter on all linear layers trains {total} parameters.", total)


def p_lora_mlp_share(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or c.inter is None or (k := rank(r)) is None:
        return None
    attn = k * (2 * (c.h + c.h) + 2 * (c.h + c.kvw))
    mlp = k * (2 * (c.h + c.inter) + (c.inter + c.h))
    share = pct(mlp / (attn + mlp) * 100)
    return Problem("lora_mlp_share", (c.facts(mlp=True), f"LoRA rank r = {k} on all seven projections of a layer",
                                      _LORA_RULE),
                   "What percentage of the adapter's parameters sit in the MLP projections (gate, up, down)? "
                   "Round to two decimals.",
                   (*c.kv_steps(),
                    f"Attention (q, o: {c.h} → {c.h}; k, v: {c.h} → {c.kvw}): {k} × (2 × ({c.h} + {c.h}) + "
                    f"2 × ({c.h} + {c.kvw})) = {attn}.",
                    f"MLP (gate, up: {c.h} → {c.inter}; down: {c.inter} → {c.h}): {k} × (2 × ({c.h} + {c.inter}) + "
                    f"({c.inter} + {c.h})) = {mlp}.",
                    f"Share: {mlp} ÷ ({attn} + {mlp}) × 100 ≈ {share}."),
                   f"So about {share}% of the adapter is in the MLP; the layer count cancels out.", share)


def p_lora_vs_full(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or c.inter is None or (k := rank(r)) is None:
        return None
    full, lora = c.h * c.inter, k * (c.h + c.inter)
    share = pct(lora / full * 100)
    return Problem("lora_vs_full", (f"gate_proj maps hidden size {c.h} to MLP width {c.inter}",
                                    f"LoRA rank r = {k}", _LORA_RULE),
                   "Fine-tuning gate_proj fully would train every weight of it. What percentage of that does "
                   "its LoRA pair train? Round to two decimals.",
                   (f"Full matrix: {c.h} × {c.inter} = {full}.", f"LoRA pair: {k} × ({c.h} + {c.inter}) = {lora}.",
                    f"Share: {lora} ÷ {full} × 100 ≈ {share}."),
                   f"So the LoRA pair trains about {share}% of gate_proj's weights.", share)


def p_rank_budget(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None:
        return None
    unit = (c.h + c.h) + (c.h + c.kvw)
    per_rank = c.layers * unit
    best = PARAM_BUDGET // per_rank
    if best < 1:
        return None
    return Problem("rank_budget", (c.facts(), _LORA_RULE),
                   f"An adapter on q_proj and v_proj must stay under {PARAM_BUDGET} trainable parameters. "
                   "What is the largest rank r that fits?",
                   (*c.kv_steps(), f"Per unit of rank, one layer: ({c.h} + {c.h}) + ({c.h} + {c.kvw}) = {unit}.",
                    f"Per unit of rank, all layers: {c.layers} × {unit} = {per_rank}.",
                    f"Largest rank: ⌊{PARAM_BUDGET} ÷ {per_rank}⌋ = {best}.",
                    f"Check: {best} × {per_rank} = {best * per_rank}, and ({best} + 1) × {per_rank} = "
                    f"{(best + 1) * per_rank} is over."),
                   f"So rank {best} is the largest that stays under the budget.", best)


def p_scaling(r: LoopRecord) -> Problem | None:
    t = dict(r.training)
    k, alpha = t.get("lora_r"), t.get("lora_alpha")
    if not isinstance(k, int) or not isinstance(alpha, int) or k <= 0:
        return None
    scale = alpha / k
    new_alpha = scale * NEW_RANK
    value = int(new_alpha) if new_alpha.is_integer() else round(new_alpha, 4)
    return Problem("lora_scaling", (f"LoRA rank r = {k}, lora_alpha = {alpha}",
                                    "the LoRA update is multiplied by alpha ÷ r"),
                   f"If the rank were raised to {NEW_RANK}, what lora_alpha would keep the update's scale as it is?",
                   (f"Scale now: {alpha} ÷ {k} = {num(scale)}.", f"Alpha for rank {NEW_RANK}: {num(scale)} × "
                    f"{NEW_RANK} = {value}."),
                   f"So lora_alpha {value} keeps the scale at {num(scale)}.", value)


def _all_count(r: LoopRecord) -> tuple[Card, int, int] | None:
    if (c := card(r)) is None or c.inter is None or (k := rank(r)) is None:
        return None
    return c, k, c.layers * lora_steps(c, k)[1]


def p_adapter_file(r: LoopRecord) -> Problem | None:
    if (got := _all_count(r)) is None:
        return None
    _, k, n = got
    size = round(n * 4 / MIB, 2)
    return Problem("adapter_file", (f"the rank-{k} adapter trains {n} parameters",
                                    "it is saved as 32-bit floats, 4 bytes each"),
                   "How large is the saved adapter file in MiB (1 MiB = 1048576 bytes), to two decimals?",
                   (f"Bytes: {n} × 4 = {n * 4}.", f"MiB: {n * 4} ÷ 1048576 ≈ {size}."),
                   f"So the adapter file is about {size} MiB.", size)


def p_adam_memory(r: LoopRecord) -> Problem | None:
    if (got := _all_count(r)) is None:
        return None
    _, _, n = got
    per = 4 + 4 + 4 + 4
    size = round(n * per / MIB, 2)
    return Problem("adam_memory", (f"the adapter trains {n} parameters",
                                   "AdamW keeps, per trained parameter, the 32-bit weight, its gradient and two "
                                   "32-bit moment estimates (4 bytes each)"),
                   "How much memory do the adapter's weights, gradients and optimizer state take, in MiB "
                   "(1048576 bytes), to two decimals?",
                   (f"Bytes per parameter: 4 + 4 + 4 + 4 = {per}.", f"Bytes: {n} × {per} = {n * per}.",
                    f"MiB: {n * per} ÷ 1048576 ≈ {size}."),
                   f"So training state for the adapter takes about {size} MiB.", size)


def p_base_params(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or (got := base_params(c)) is None:
        return None
    steps, total = got
    return Problem("base_params", (c.facts(mlp=True, vocab=True), _LLAMA + " Biases: none."),
                   "How many parameters does the base model have?", tuple(steps),
                   f"So the base model holds {total} parameters.", total)


def p_embedding_share(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or (got := base_params(c)) is None or not c.tied:
        return None
    total, emb = got[1], c.vocab * c.h  # type: ignore[operator]
    share = pct(emb / total * 100)
    return Problem("embedding_share", (f"the base model holds {total} parameters in all",
                                       f"vocabulary {c.vocab} tokens, hidden size {c.h}, one embedding table "
                                       "shared by input and output"),
                   "What percentage of the base model's parameters is the embedding table? Two decimals.",
                   (f"Embedding table: {c.vocab} × {c.h} = {emb}.", f"Share: {emb} ÷ {total} × 100 ≈ {share}."),
                   f"So the embedding table is about {share}% of the model.", share)


def p_layer_mlp_share(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or c.inter is None:
        return None
    attn, mlp = 2 * c.h * c.h + 2 * c.h * c.kvw, 3 * c.h * c.inter
    share = pct(mlp / (attn + mlp) * 100)
    return Problem("layer_mlp_share", (c.facts(mlp=True), "3 MLP projections (gate, up, down), each hidden size × MLP "
                                                         "width; no biases; norms left out"),
                   "Of one decoder layer's projection weights, what percentage is the MLP (gate, up, down)? "
                   "Two decimals.",
                   (*c.kv_steps(), f"Attention: {c.h} × {c.h} + {c.h} × {c.kvw} + {c.h} × {c.kvw} + {c.h} × {c.h} "
                    f"= {attn}.", f"MLP: 3 × {c.h} × {c.inter} = {mlp}.",
                    f"Share: {mlp} ÷ ({attn} + {mlp}) × 100 ≈ {share}."),
                   f"So the MLP is about {share}% of a layer's weights.", share)


def p_kv_cache_token(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or c.kv == c.heads:
        return None
    gqa, mha = 2 * c.layers * c.kvw * 2, 2 * c.layers * c.h * 2
    return Problem("kv_cache_saving", (c.facts(), "the key/value cache stores keys and values in 16-bit floats, "
                                                  "2 bytes each"),
                   "How many bytes of key/value cache does each token save compared with full multi-head "
                   "attention, where every attention head has its own keys and values?",
                   (*c.kv_steps(),
                    f"Per token now (keys and values, all layers, 2 bytes each): 2 × {c.layers} × {c.kvw} × 2 "
                    f"= {gqa} bytes.",
                    f"With one key/value head per attention head, {c.heads} × {c.hd} = {c.h} wide: "
                    f"2 × {c.layers} × {c.h} × 2 = {mha} bytes.",
                    f"Saved: {mha} − {gqa} = {mha - gqa} bytes."),
                   f"So sharing key/value heads saves {mha - gqa} bytes per token.", mha - gqa)


def p_kv_cache_fit(r: LoopRecord) -> Problem | None:
    if (c := card(r)) is None or c.ctx is None:
        return None
    per_layer = c.ctx * c.kvw * 2 * 2
    total = c.layers * per_layer
    fit = 1024 * MIB // total
    return Problem("kv_cache_fit", (c.facts(), f"context window {c.ctx} tokens",
                                    "keys and values cached as 16-bit floats (2 bytes)"),
                   "How many sequences of the full context length fit in a 1024 MiB key/value cache budget?",
                   (*c.kv_steps(),
                    f"One layer, one full sequence (keys and values, 2 bytes each): "
                    f"{c.ctx} × {c.kvw} × 2 × 2 = {per_layer} bytes.",
                    f"All layers: {c.layers} × {per_layer} = {total} bytes.",
                    f"Budget: 1024 × 1048576 = {1024 * MIB} bytes.",
                    f"Sequences: ⌊{1024 * MIB} ÷ {total}⌋ = {fit}."),
                   f"So {fit} full-context sequences fit.", fit)


def p_context_examples(r: LoopRecord) -> Problem | None:
    ctx, hi = dict(r.model_card).get("max_position_embeddings"), dict(r.tokens).get("max")
    if not isinstance(ctx, int) or not isinstance(hi, int) or hi <= 0 or ctx < hi:
        return None
    n, left = ctx // hi, ctx - ctx // hi * hi
    return Problem("context_examples", (f"the base model reads up to {ctx} tokens",
                                        f"a training example is at most {hi} tokens"),
                   "How many maximum-length examples fit in one context window, and how many tokens are left over?",
                   (f"Whole examples: ⌊{ctx} ÷ {hi}⌋ = {n}.", f"Left over: {ctx} − {n} × {hi} = {left} tokens."),
                   f"So {n} full examples fit, with {left} tokens to spare.", n)


def p_optimizer_steps(r: LoopRecord) -> Problem | None:
    epochs, n = dict(r.training).get("epochs"), dict(r.cadence).get("min_new_examples")
    if not isinstance(epochs, int | float) or not isinstance(n, int) or n <= 0:
        return None
    per = math.ceil(n / BATCH)
    total = per * epochs
    value = int(total) if float(total).is_integer() else round(total, 2)
    return Problem("optimizer_steps", (f"training runs {num(epochs)} epochs",
                                       f"training starts at once when {n} new examples arrive",
                                       f"batches of {BATCH} examples, one optimizer step each (a last partial "
                                       "batch still counts)"),
                   f"A training run on exactly {n} examples: how many optimizer steps does it take?",
                   (f"Steps per epoch: ⌈{n} ÷ {BATCH}⌉ = {per}.", f"All epochs: {per} × {num(epochs)} = {value}."),
                   f"So the run takes {value} optimizer steps.", value)


def p_tokens_read(r: LoopRecord) -> Problem | None:
    epochs, hi = dict(r.training).get("epochs"), dict(r.tokens).get("max")
    if not isinstance(epochs, int | float) or not isinstance(hi, int):
        return None
    passes = DATASET * epochs
    tokens = passes * hi
    value = int(tokens) if float(tokens).is_integer() else round(tokens, 2)
    return Problem("tokens_read", (f"{num(epochs)} epochs per training run", f"examples of at most {hi} tokens",
                                   f"a judged dataset of {DATASET} examples"),
                   "At most how many tokens does one training run read?",
                   (f"Example passes: {DATASET} × {num(epochs)} = {num(passes)}.",
                    f"Tokens, at most: {num(passes)} × {hi} = {value}."),
                   f"So a run reads at most {value} tokens.", value)


def p_cosine_lr(r: LoopRecord) -> Problem | None:
    lr = dict(r.training).get("learning_rate")
    if not isinstance(lr, float | int) or lr <= 0:
        return None
    c = round(math.cos(math.pi * 0.25), 4)
    value = float(f"{lr * 0.5 * (1 + math.cos(math.pi * 0.25)):.3g}")
    return Problem("cosine_lr", (f"peak learning rate {lr}",
                                 "a cosine schedule without warmup: lr(t) = peak × 0.5 × (1 + cos(π × t)), t the "
                                 "share of training done"),
                   "What is the learning rate a quarter of the way through training (t = 0.25), to three "
                   "significant figures?",
                   (f"cos(π × 0.25) ≈ {c}.", f"lr: {lr} × 0.5 × (1 + {c}) ≈ {value}."),
                   f"So a quarter of the way in, the learning rate is about {value}.", value)


MODEL_PROBLEMS = (
    p_kv_width, p_lora_q, p_lora_qv, p_lora_all, p_lora_mlp_share, p_lora_vs_full, p_rank_budget, p_scaling,
    p_adapter_file, p_adam_memory, p_base_params, p_embedding_share, p_layer_mlp_share, p_kv_cache_token,
    p_kv_cache_fit, p_context_examples, p_optimizer_steps, p_tokens_read, p_cosine_lr,
)

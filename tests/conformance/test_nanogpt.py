"""A GPT in the style of nanoGPT (karpathy/nanoGPT: `model.py`, and the loop of
`train.py`), written once against `torch.*` and run with torch and with tinygrad_seq.

What it exercises: `nn.Module` subclasses holding `nn.ModuleDict(dict(...))` of
`nn.Embedding`, `nn.Dropout`, `nn.ModuleList` and a hand-written LayerNorm
(`nn.Parameter(torch.ones(ndim))`, `F.layer_norm(x, self.weight.shape, ...)`), attention
through `self.c_attn(x).split(n_embd, dim=2)`, `.view(B, T, nh, hs).transpose(1, 2)`,
`F.scaled_dot_product_attention(..., is_causal=True)` (and the explicit path:
`torch.tril` buffer, `masked_fill(... == 0, float('-inf'))`), `.contiguous().view`,
`nn.GELU`, weight tying (`wte.weight = lm_head.weight`, one parameter in
`parameters()`, both names in `state_dict()`), `self.apply(self._init_weights)`,
`torch.nn.init.normal_/zeros_`, `named_parameters()`, `p.numel()`, `p.dim()`,
`torch.arange(0, t, dtype=torch.long, device=device)`, `F.cross_entropy(...,
ignore_index=-1)`, `logits[:, [-1], :]`; `configure_optimizers`: `AdamW` with two param
groups and `inspect.signature(torch.optim.AdamW)`; `train.py`: per-group learning rate
set by hand (warmup + cosine), `torch.backends.cuda.matmul.allow_tf32 = True`, a
`torch.amp.GradScaler(enabled=False)` it always goes through (`scale(loss).backward()`,
`unscale_`, `step`, `update`), gradient accumulation, `clip_grad_norm_`,
`zero_grad(set_to_none=True)`, `torch.from_numpy(...astype(np.int64))` batches,
`estimate_loss` under `@torch.no_grad()` with `model.eval()`, checkpoints
(`torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
"model_args": ..., "iter_num": ..., "config": {...}}, path)`) and resuming from them
(`torch.load(path, map_location=device)`, `_orig_mod.` keys renamed,
`optimizer.load_state_dict`, `model.to(device)`), `torch.zeros(n)` filled by
`losses[k] = loss.item()`; `from_pretrained`'s copy into `model.state_dict()` tensors
with `.copy_` under `no_grad`; `generate` with `@torch.no_grad()`, `topk`,
`logits[logits < v[:, [-1]]] = -float('Inf')`, `F.softmax`, `torch.multinomial`,
`torch.cat`; `crop_block_size` (`nn.Parameter(weight[:block_size])` replacing a
parameter, slicing the mask buffer).

Sampling: the draws of the two libraries' generators differ, so the test compares the
probabilities the two models give the next token after every prefix of each sampled
sequence (and checks each draw had positive probability), not the draws.
"""
import inspect
import math
import os
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pytest

import tinygrad_seq
from conformance_harness import (assert_loss_close, assert_losses_equal, build_pair,
                                 default_dtype, needs_torch, run_both, torch)


@dataclass
class GPTConfig:
    block_size: int = 16
    vocab_size: int = 12
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 16
    dropout: float = 0.0
    bias: bool = True
    flash: bool = True


def make_gpt_classes(torch):
    nn = torch.nn
    F = torch.nn.functional

    class LayerNorm(nn.Module):
        """LayerNorm but with an optional bias."""

        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(ndim))
            self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

        def forward(self, input):
            return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self, config):
            super().__init__()
            assert config.n_embd % config.n_head == 0
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.attn_dropout = nn.Dropout(config.dropout)
            self.resid_dropout = nn.Dropout(config.dropout)
            self.n_head = config.n_head
            self.n_embd = config.n_embd
            self.dropout = config.dropout
            self.flash = config.flash and hasattr(torch.nn.functional, "scaled_dot_product_attention")
            if not self.flash:
                self.register_buffer("bias", torch.tril(torch.ones(config.block_size, config.block_size))
                                     .view(1, 1, config.block_size, config.block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.flash:
                y = torch.nn.functional.scaled_dot_product_attention(
                    q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0,
                    is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                att = self.attn_dropout(att)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            y = self.resid_dropout(self.c_proj(y))
            return y

    class MLP(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP(config)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlp(self.ln_2(x))
            return x

    class GPT(nn.Module):
        def __init__(self, config):
            super().__init__()
            assert config.vocab_size is not None
            assert config.block_size is not None
            self.config = config
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            ))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight   # weight tying
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def crop_block_size(self, block_size):
            # model surgery to decrease the block size if necessary
            assert block_size <= self.config.block_size
            self.config.block_size = block_size
            self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])
            for block in self.transformer.h:
                if hasattr(block.attn, "bias"):
                    block.attn.bias = block.attn.bias[:, :, :block_size, :block_size]

        def get_num_params(self, non_embedding=True):
            n_params = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n_params -= self.transformer.wpe.weight.numel()
            return n_params

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            device = idx.device
            b, t = idx.size()
            assert t <= self.config.block_size
            pos = torch.arange(0, t, dtype=torch.long, device=device)
            tok_emb = self.transformer.wte(idx)
            pos_emb = self.transformer.wpe(pos)
            x = self.transformer.drop(tok_emb + pos_emb)
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])   # a list index keeps the time dim
                loss = None
            return logits, loss

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            param_dict = {pn: p for pn, p in self.named_parameters()}
            param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [
                {"params": decay_params, "weight_decay": weight_decay},
                {"params": nodecay_params, "weight_decay": 0.0},
            ]
            fused_available = "fused" in inspect.signature(torch.optim.AdamW).parameters
            use_fused = fused_available and device_type == "cuda"
            extra_args = dict(fused=True) if use_fused else dict()
            return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)

        @torch.no_grad()
        def next_token_probs(self, idx, temperature=1.0, top_k=None):
            """The body of generate() up to the draw."""
            idx_cond = idx if idx.size(1) <= self.config.block_size else idx[:, -self.config.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            return F.softmax(logits, dim=-1)

        @torch.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                probs = self.next_token_probs(idx, temperature, top_k)
                idx_next = torch.multinomial(probs, num_samples=1)
                idx = torch.cat((idx, idx_next), dim=1)
            return idx

    return GPT


def build(torch, config):
    return make_gpt_classes(torch)(config)


def get_batch(torch, data, ix, block_size):
    x = torch.stack([torch.from_numpy((data[i:i + block_size]).astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy((data[i + 1:i + 1 + block_size]).astype(np.int64)) for i in ix])
    return x, y


def train(torch, model, data, order, val_data, val_order, learning_rate=3e-3, warmup_iters=4,
          lr_decay_iters=None, min_lr=3e-4, grad_clip=1.0, gradient_accumulation_steps=2,
          dtype="float32", max_iters=None, out_dir=None, init_from="scratch", eval_interval=5,
          always_save_checkpoint=True):
    """nanoGPT's train.py loop over the batches the test fixed (`order`: one array of
    start offsets per micro-step, indexed from the iteration number, so that a resumed
    run reads on where the checkpoint left off). With `out_dir`, a checkpoint is saved
    every `eval_interval` iterations; init_from="resume" rebuilds the model from it
    (`model` is then ignored). Returns (per-iteration losses, final val loss, model)."""
    torch.backends.cuda.matmul.allow_tf32 = True  # allow tf32 on matmul
    torch.backends.cudnn.allow_tf32 = True  # allow tf32 on cudnn
    device = "cpu"
    device_type = "cuda" if "cuda" in device else "cpu"  # for later use in torch.autocast
    ctx = nullcontext()     # train.py: torch.amp.autocast(...) on cuda only
    max_iters = max_iters or len(order) // gradient_accumulation_steps
    lr_decay_iters = lr_decay_iters or max_iters
    config = dict(learning_rate=learning_rate, max_iters=max_iters, dtype=dtype,
                  init_from=init_from, grad_clip=grad_clip, decay_lr=True)
    iter_num = 0
    best_val_loss = 1e9
    if init_from == "scratch":
        model_args = dict((k, getattr(model.config, k)) for k in
                          ["n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size",
                           "dropout", "flash"])
    elif init_from == "resume":
        # resume training from a checkpoint.
        ckpt_path = os.path.join(out_dir, "ckpt.pt")
        checkpoint = torch.load(ckpt_path, map_location=device)
        checkpoint_model_args = checkpoint["model_args"]
        # force these config attributes to be equal otherwise we can't even resume training
        model_args = {"dropout": 0.0}
        for k in ["n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size", "flash"]:
            model_args[k] = checkpoint_model_args[k]
        gptconf = GPTConfig(**model_args)
        model = make_gpt_classes(torch)(gptconf)
        state_dict = checkpoint["model"]
        # fix the keys of the state dictionary :(
        unwanted_prefix = "_orig_mod."
        for k, v in list(state_dict.items()):
            if k.startswith(unwanted_prefix):
                state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
        model.load_state_dict(state_dict)
        iter_num = checkpoint["iter_num"]
        best_val_loss = checkpoint["best_val_loss"]
    model.to(device)
    block_size = model.config.block_size
    # initialize a GradScaler. If enabled=False scaler is a no-op
    scaler = torch.amp.GradScaler(device_type, enabled=(dtype == "float16"))
    optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.95), device_type)
    if init_from == "resume":
        optimizer.load_state_dict(checkpoint["optimizer"])
    checkpoint = None  # free up memory

    def get_lr(it):
        if it < warmup_iters:
            return learning_rate * (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_lr
        decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
        return min_lr + coeff * (learning_rate - min_lr)

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        losses = torch.zeros(len(val_order))
        for k, ix in enumerate(val_order):
            X, Y = get_batch(torch, val_data, ix, block_size)
            with ctx:
                logits, loss = model(X, Y)
            losses[k] = loss.item()
        out = losses.mean()
        model.train()
        return out.item()

    model.train()
    history = []
    while iter_num < max_iters:
        lr = get_lr(iter_num)
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        # evaluate the loss on train/val sets and write checkpoints
        if out_dir is not None and iter_num % eval_interval == 0 and iter_num > 0:
            val_loss = estimate_loss()
            if val_loss < best_val_loss or always_save_checkpoint:
                best_val_loss = val_loss
                checkpoint = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "model_args": model_args,
                    "iter_num": iter_num,
                    "best_val_loss": best_val_loss,
                    "config": config,
                }
                torch.save(checkpoint, os.path.join(out_dir, "ckpt.pt"))
        total = 0.0
        for micro_step in range(gradient_accumulation_steps):
            X, Y = get_batch(torch, data, order[iter_num * gradient_accumulation_steps + micro_step],
                             block_size)
            with ctx:
                logits, loss = model(X, Y)
                loss = loss / gradient_accumulation_steps
            total += loss.item()
            # backward pass, with gradient scaling if training in fp16
            scaler.scale(loss).backward()
        # clip the gradient
        if grad_clip != 0.0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        # step the optimizer and scaler if training in fp16
        scaler.step(optimizer)
        scaler.update()
        # flush the gradients as soon as we can, no need for this memory anymore
        optimizer.zero_grad(set_to_none=True)
        history.append(total)
        iter_num += 1
    return history, estimate_loss(), model


def load_pretrained_style(torch, model, arrays):
    """from_pretrained's copy: into the tensors of model.state_dict(), under no_grad."""
    sd = model.state_dict()
    sd_keys = [k for k in sd.keys() if not k.endswith(".attn.bias")]
    for k in sd_keys:
        assert sd[k].shape == arrays[k].shape
        with torch.no_grad():
            sd[k].copy_(torch.from_numpy(arrays[k]))
    return model


# ---- the test's data: a synthetic "language" with structure to learn

def make_corpus(n, vocab_size, seed):
    """Counting runs: each token is the previous plus a step drawn from {1, 2} (mod V),
    with a reset token 0 now and then."""
    rng = np.random.default_rng(seed)
    out = [1]
    for _ in range(n - 1):
        if rng.random() < 0.05:
            out.append(0)
        else:
            out.append(1 + (out[-1] + rng.integers(1, 3)) % (vocab_size - 1))
    return np.array(out, dtype=np.uint16)


def make_order(n_micro, batch_size, n_tokens, block_size, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_tokens - block_size - 1, batch_size) for _ in range(n_micro)]


CONFIGS = {
    "flash": GPTConfig(),
    "explicit_mask": GPTConfig(flash=False, bias=False),
}


@needs_torch
@pytest.mark.parametrize("name", list(CONFIGS))
def test_gpt_float64_losses_match(name):
    config = CONFIGS[name]
    data, val = make_corpus(2000, config.vocab_size, 1), make_corpus(500, config.vocab_size, 2)
    order = make_order(40, 4, len(data), config.block_size, 3)
    val_order = make_order(3, 4, len(val), config.block_size, 4)
    theirs, ours = build_pair(build, config)
    assert ours.get_num_params() == theirs.get_num_params()
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))   # tied: counted once
    assert list(ours.state_dict()) == list(theirs.state_dict())
    (lt, vt, _), (lo, vo, _) = run_both(train, theirs, ours, data, order, val, val_order)
    assert len(lt) == 20
    assert_losses_equal(lt, lo)
    np.testing.assert_allclose(vo, vt, rtol=1e-9)
    # still tied after training: one parameter under both names
    assert ours.transformer.wte.weight is ours.lm_head.weight
    np.testing.assert_allclose(ours.lm_head.weight.numpy(), theirs.lm_head.weight.detach().numpy(),
                               rtol=1e-8, atol=1e-12)


@needs_torch
def test_gpt_from_pretrained_copy_and_generate():
    config = GPTConfig()
    with default_dtype(torch, "float64"):
        torch.manual_seed(0)
        theirs = build(torch, config)
    arrays = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    with default_dtype(tinygrad_seq, "float64"):
        tinygrad_seq.manual_seed(1)
        ours = load_pretrained_style(tinygrad_seq, build(tinygrad_seq, config), arrays)
        for k, v in ours.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), arrays[k])
    prompt = np.array([[1, 2, 3], [5, 6, 8]], dtype=np.int64)

    def sample(torch, model, top_k, temperature):
        model.eval()
        torch.manual_seed(7)
        return model.generate(torch.from_numpy(prompt), 20, temperature=temperature,
                              top_k=top_k).numpy()

    def probs_along(torch, model, seq, top_k, temperature):
        """The next-token probabilities after every prefix of `seq` (from the prompt on)."""
        model.eval()
        seq = torch.from_numpy(seq)
        return np.stack([model.next_token_probs(seq[:, :t], temperature, top_k).numpy()
                         for t in range(prompt.shape[1], seq.shape[1])])

    for top_k, temperature in [(None, 1.0), (3, 0.8), (1, 1.0)]:
        st, so = run_both(sample, theirs, ours, top_k, temperature)
        assert so.shape == st.shape == (2, prompt.shape[1] + 20)
        np.testing.assert_array_equal(so[:, :3], prompt)
        for seq in (st, so):
            pt, po = run_both(probs_along, theirs, ours, seq, top_k, temperature)
            np.testing.assert_allclose(po, pt, rtol=1e-9, atol=1e-15)
            drawn = np.take_along_axis(pt, seq[:, 3:].T[..., None], axis=2)
            assert (drawn > 0).all()        # every draw had positive probability
        if top_k == 1:                          # a top-1 filter leaves one choice: greedy
            np.testing.assert_array_equal(so, st)


@needs_torch
@pytest.mark.parametrize("slow_form", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_gpt_float32_final_loss(slow_form):
    config = GPTConfig()
    n_micro = 400 if slow_form else 120
    data, val = make_corpus(4000, config.vocab_size, 1), make_corpus(1000, config.vocab_size, 2)
    order = make_order(n_micro, 8, len(data), config.block_size, 5)
    val_order = make_order(8, 16, len(val), config.block_size, 6)
    theirs, ours = build_pair(build, config, dtype="float32")
    (lt, vt, _), (lo, vo, _) = run_both(train, theirs, ours, data, order, val, val_order,
                                  dtype="float32")
    assert vt < lt[0] * 0.8            # it learned something
    assert_loss_close(vt, vo)


@needs_torch
def test_gpt_crop_block_size_then_train():
    """Model surgery (crop_block_size) on both, then the same losses."""
    config = GPTConfig(flash=False, block_size=16)
    data, val = make_corpus(1000, config.vocab_size, 1), make_corpus(300, config.vocab_size, 2)
    theirs, ours = build_pair(build, config)
    for m in (theirs, ours):
        m.crop_block_size(8)
    assert ours.transformer.wpe.weight.shape == (8, config.n_embd)
    assert ours.transformer.h[0].attn.bias.shape == (1, 1, 8, 8)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    order = make_order(8, 4, len(data), 8, 3)
    (lt, vt, _), (lo, vo, _) = run_both(train, theirs, ours, data, order, val,
                                  make_order(2, 4, len(val), 8, 4))
    assert_losses_equal(lt, lo)
    np.testing.assert_allclose(vo, vt, rtol=1e-9)


def train_in_dir(torch, model, tmp_path, *args, **kwargs):
    out_dir = tmp_path / torch.__name__
    out_dir.mkdir(exist_ok=True)
    return train(torch, model, *args, out_dir=str(out_dir), **kwargs)


@needs_torch
def test_gpt_checkpoint_and_resume(tmp_path):
    """train.py's checkpoints: 10 iterations straight (saving at 5), then a fresh process
    resumes from the checkpoint of iteration 5 (`torch.load(..., map_location=device)`,
    `_orig_mod.` prefixes stripped, `optimizer.load_state_dict`) and trains 5..9 again:
    the same losses in each library as uninterrupted, and the same between libraries."""
    config = GPTConfig()
    data, val = make_corpus(2000, config.vocab_size, 1), make_corpus(500, config.vocab_size, 2)
    order = make_order(20, 4, len(data), config.block_size, 3)
    val_order = make_order(2, 4, len(val), config.block_size, 4)
    theirs, ours = build_pair(build, config)
    (lt, vt, _), (lo, vo, _) = run_both(train_in_dir, theirs, ours, tmp_path, data, order, val,
                                        val_order, max_iters=10, eval_interval=5)
    assert_losses_equal(lt, lo)
    (rt, wt, mt), (ro, wo, mo) = run_both(train_in_dir, None, None, tmp_path, data, order, val,
                                          val_order, max_iters=10, eval_interval=5,
                                          init_from="resume")
    assert len(rt) == len(ro) == 5
    np.testing.assert_allclose(rt, lt[5:], rtol=1e-12)
    np.testing.assert_allclose(ro, lo[5:], rtol=1e-12)
    np.testing.assert_allclose(wo, vo, rtol=1e-12)
    assert mo.transformer.wte.weight is mo.lm_head.weight      # still tied after loading

"""Independent numpy reference for the Llama decoder of ai.djl.jlcm.examples.llm.

Builds tiny random Llama checkpoints in the Hugging Face layout (config.json, safetensors written by
hand, sharded with model.safetensors.index.json for one of them) and the logits of a fixed token
sequence, computed in float64 from the stored (rounded) weights, as expected.json. Rerun with
`python3 reference.py` in this directory; the output is deterministic.
"""
import json
import os
import struct

import numpy as np


def bf16_bits(a):
    """float32 -> bfloat16 bits, rounding to nearest even."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def stored(a, dtype):
    """The values a tensor has once stored in dtype (what the reader must return)."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "BF16":
        return (bf16_bits(a).astype(np.uint32) << 16).view(np.float32)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    return a


def raw(a, dtype):
    if dtype == "BF16":
        return bf16_bits(a).astype("<u2").tobytes()
    if dtype == "F16":
        return np.asarray(a, dtype="<f2").tobytes()
    return np.asarray(a, dtype="<f4").tobytes()


def write_safetensors(path, tensors, dtype):
    header, data, offset = {"__metadata__": {"format": "pt"}}, b"", 0
    for name, a in tensors.items():
        b = raw(a, dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        data += b
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    return offset


def random_weights(cfg, rng):
    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    d = h // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * d

    def lin(o, n):
        return (rng.standard_normal((o, n)) / np.sqrt(n)).astype(np.float32)

    def norm(n):
        return (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.standard_normal((v, h)).astype(np.float32)}
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        w[p + "input_layernorm.weight"] = norm(h)
        w[p + "self_attn.q_proj.weight"] = lin(h, h)
        w[p + "self_attn.k_proj.weight"] = lin(kv, h)
        w[p + "self_attn.v_proj.weight"] = lin(kv, h)
        w[p + "self_attn.o_proj.weight"] = lin(h, h)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        w[p + "mlp.gate_proj.weight"] = lin(i, h)
        w[p + "mlp.up_proj.weight"] = lin(i, h)
        w[p + "mlp.down_proj.weight"] = lin(h, i)
    w["model.norm.weight"] = norm(h)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = lin(v, h)
    return w


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def forward(cfg, w, tokens):
    """Logits (T, V) of one sequence, float64, as transformers' LlamaForCausalLM computes them."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    h, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d, eps, t = h // nh, cfg["rms_norm_eps"], len(tokens)
    inv_freq = 1.0 / cfg["rope_theta"] ** (np.arange(0, d, 2) / d)
    freqs = np.outer(np.arange(t), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb), np.sin(emb)
    mask = np.triu(np.full((t, t), -np.inf), 1)
    x = w["model.embed_tokens.weight"][tokens]
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        a = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (a @ w[p + "self_attn.q_proj.weight"].T).reshape(t, nh, d).transpose(1, 0, 2)
        k = (a @ w[p + "self_attn.k_proj.weight"].T).reshape(t, nkv, d).transpose(1, 0, 2)
        v = (a @ w[p + "self_attn.v_proj.weight"].T).reshape(t, nkv, d).transpose(1, 0, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(d) + mask
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(t, h)
        x = x + ctx @ w[p + "self_attn.o_proj.weight"].T
        m = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = m @ w[p + "mlp.gate_proj.weight"].T
        u = m @ w[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def build(name, cfg, dtype, shards, seed, tokens):
    os.makedirs(name, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = {k: stored(v, dtype) for k, v in random_weights(cfg, rng).items()}
    with open(os.path.join(name, "config.json"), "w") as f:
        json.dump(dict(cfg, architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu"), f, indent=1)
    names = list(w)
    if shards == 1:
        write_safetensors(os.path.join(name, "model.safetensors"), w, dtype)
    else:
        per = -(-len(names) // shards)
        weight_map, total = {}, 0
        for s in range(shards):
            file = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
            part = {n: w[n] for n in names[s * per:(s + 1) * per]}
            total += write_safetensors(os.path.join(name, file), part, dtype)
            weight_map.update({n: file for n in part})
        with open(os.path.join(name, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    logits = forward(cfg, w, np.array(tokens))
    with open(os.path.join(name, "expected.json"), "w") as f:
        json.dump({"tokens": tokens, "logits": [round(float(x), 7) for x in logits.ravel()]}, f)


def config(hidden, inter, layers, heads, kv, vocab, theta, tied):
    return {"hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kv, "vocab_size": vocab,
            "rms_norm_eps": 1e-5, "rope_theta": theta, "max_position_embeddings": 64,
            "tie_word_embeddings": tied}


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    # grouped-query attention (4 heads on 2 KV heads), untied head, bfloat16, two shards
    build("tiny-gqa-bf16", config(32, 64, 2, 4, 2, 50, 10000.0, False), "BF16", 2, 13,
          [3, 17, 42, 8, 25, 1, 49, 0, 17, 33])
    # multi-head attention, head tied to the embeddings, float32, one file
    build("tiny-tied-f32", config(16, 40, 1, 2, 2, 30, 500.0, True), "F32", 1, 7, [5, 0, 29, 12, 5, 7])

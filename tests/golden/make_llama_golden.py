"""Golden fixtures for models/llama: tiny random LlamaForCausalLM and Qwen2ForCausalLM.

Writes, under tests/fixtures/llama/:
  tiny_llama/  save_pretrained folder (one model.safetensors, untied lm_head, GQA 4/2)
  tiny_qwen2/  save_pretrained folder, sharded (model.safetensors.index.json), q/k/v biases,
               tied embeddings, rope_theta 1e6, eps 1e-6, with tests/fixtures/tokenizers/
               qwen2_style_bpe.json as its tokenizer.json (so its vocabulary is that one's, 706)
  <name>_golden.safetensors:
    input_ids [2, L] int64, attention_mask [2, L] int64 (row 1 left-padded),
    logits [2, L, V] float32 (eager attention, position_ids from the mask as generate() makes
    them), loss_weight [2, L, V]: loss = sum(logits * loss_weight * mask), grad.<param> for every
    parameter, greedy_ids / beam_ids: generate() outputs (prompt + new tokens, [2, L + n]).
Run: /work/pyenv/bin/python tests/golden/make_llama_golden.py   (development only)
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config,
                          Qwen2ForCausalLM)

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "llama")
QWEN_TOKENIZER = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tokenizers", "qwen2_style_bpe.json")
PROMPT = "The heart is normal in size."
PAD, BOS, EOS = 0, 1, 2
GREEDY = dict(do_sample=False, num_beams=1, max_new_tokens=8)
BEAM = dict(do_sample=False, num_beams=3, repetition_penalty=2.0, length_penalty=2.0,
            min_new_tokens=3, max_new_tokens=8)


def positions_from_mask(mask):
    # What generate() computes for left-padded prompts.
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def make(name, model_cls, config, seed, shard, tokenizer_json=None):
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    # Random norms and biases too, so that their gradients and loading are exercised.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
            elif pname.endswith(".bias"):
                p.normal_(0.0, 0.1)
            else:
                p.normal_(0.0, 0.1)
    folder = os.path.join(OUT, name)
    model.save_pretrained(folder, max_shard_size="40KB" if shard else "100MB")

    g = torch.Generator().manual_seed(seed + 1)
    L, V = 7, config.vocab_size
    ids = torch.randint(3, V, (2, L), generator=g)
    mask = torch.ones(2, L, dtype=torch.long)
    ids[1, :3] = PAD
    mask[1, :3] = 0
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask))
    logits = out.logits
    weight = torch.randn(logits.shape, generator=g)
    loss = (logits * weight * mask[..., None]).sum()
    loss.backward()

    tensors = {
        "input_ids": ids,
        "attention_mask": mask,
        "logits": logits.detach().contiguous(),
        "loss_weight": weight,
        "loss": loss.detach().reshape(1),
    }
    for pname, p in model.named_parameters():
        tensors["grad." + pname] = p.grad.detach().contiguous()
    with torch.no_grad():
        common = dict(attention_mask=mask, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=BOS)
        tensors["greedy_ids"] = model.generate(ids, **common, **GREEDY).contiguous()
        tensors["beam_ids"] = model.generate(ids, **common, **BEAM).contiguous()
    metadata = {"greedy": json.dumps(GREEDY), "beam": json.dumps(BEAM)}
    if tokenizer_json:
        shutil.copyfile(tokenizer_json, os.path.join(folder, "tokenizer.json"))
        tok = PreTrainedTokenizerFast(tokenizer_file=tokenizer_json)
        prompt_ids = torch.tensor([tok.encode(PROMPT)])
        with torch.no_grad():
            out_ids = model.generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids), pad_token_id=PAD,
                                     eos_token_id=EOS, **GREEDY)
        tensors["text_prompt_ids"] = prompt_ids.contiguous()
        tensors["text_greedy_ids"] = out_ids.contiguous()
        metadata["text_prompt"] = PROMPT
        metadata["text_greedy"] = tok.decode(out_ids[0], skip_special_tokens=True)
        print(" text", repr(metadata["text_greedy"]))
    save_file(tensors, os.path.join(OUT, name + "_golden.safetensors"), metadata=metadata)
    print(name, {k: tuple(v.shape) for k, v in tensors.items() if not k.startswith("grad.")})
    print(" greedy", tensors["greedy_ids"].tolist())
    print(" beam", tensors["beam_ids"].tolist())


def main():
    os.makedirs(OUT, exist_ok=True)
    common = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=64, pad_token_id=PAD,
                  bos_token_id=BOS, eos_token_id=EOS, attn_implementation="eager")
    make("tiny_llama", LlamaForCausalLM,
         LlamaConfig(vocab_size=96, rms_norm_eps=1e-5, tie_word_embeddings=False,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **common),
         seed=1, shard=False)
    make("tiny_qwen2", Qwen2ForCausalLM,
         Qwen2Config(vocab_size=706, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6}, **common),
         seed=2, shard=True, tokenizer_json=QWEN_TOKENIZER)


if __name__ == "__main__":
    main()

"""Hugging Face generate() outputs for a toy decoder, the oracle of tests/cpu/test_generation.cpp.

The toy decoder's logits for the token at position i (counted from the row's first non-pad token)
are table[token] + bias[i]: they depend on the last token and its position only. The C++ test
implements the same decoder as a StepDecoder and must reproduce every sequence token for token
(and the beam scores to 1e-5). Batches are left-padded, as generate() wants. Two cases start
from one-hot prompt embeddings (inputs_embeds, EMRRG's way), where HF's processors see no
prompt ids; the script checks those give other tokens than the same prompts given as ids.

Run: /work/pyenv/bin/python tests/golden/make_generation_golden.py
Writes tests/fixtures/generation/toy_generate.json.
"""
import json
import os

import numpy as np
import torch
from torch import nn
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

VOCAB = 16
POSITIONS = 48
PAD = 99  # outside the vocabulary, so padding is never mistaken for a generated token


class ToyConfig(PretrainedConfig):
    model_type = "toy_table_decoder"

    def __init__(self, vocab_size=VOCAB, positions=POSITIONS, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.positions = positions


class ToyDecoder(PreTrainedModel, GenerationMixin):
    config_class = ToyConfig

    def __init__(self, config, table, bias):
        super().__init__(config)
        self.table = nn.Parameter(torch.tensor(table), requires_grad=False)
        self.bias = nn.Parameter(torch.tensor(bias), requires_grad=False)

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        tokens = input_ids.clamp(max=VOCAB - 1)  # pad positions: any row, their logits are unused
        return CausalLMOutputWithPast(logits=self.table[tokens] + self.bias[positions])


class ToyEmbeddingDecoder(ToyDecoder):
    """The same decoder fed one-hot prompt embeddings (generate(inputs_embeds=...)), as EMRRG
    feeds visual tokens. generate() then runs with a cache and passes one new token per call, so
    the position is counted here; all rows share it (same prompt length)."""

    def forward(self, input_ids=None, inputs_embeds=None, **kwargs):
        if inputs_embeds is not None:
            tokens = inputs_embeds.argmax(-1)
            positions = torch.arange(tokens.shape[1]).expand_as(tokens)
            self.next_position = tokens.shape[1]
        else:
            tokens = input_ids[:, -1:]
            positions = torch.full_like(tokens, self.next_position)
            self.next_position += 1
        return CausalLMOutputWithPast(logits=self.table[tokens] + self.bias[positions])


def run_from_embeddings(model, prompts, settings):
    assert len({len(p) for p in prompts}) == 1, "one prompt length per batch"
    embeds = torch.eye(VOCAB)[torch.tensor(prompts)]
    out = model.generate(inputs_embeds=embeds, do_sample=False, pad_token_id=PAD, return_dict_in_generate=True,
                         output_scores=True, **settings)
    sequences = [[t for t in row if t != PAD] for row in out.sequences.tolist()]
    scores = out.sequences_scores.tolist() if settings.get("num_beams", 1) > 1 else [0.0] * len(prompts)
    return sequences, scores


def run_case(model, prompts, settings):
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, use_cache=False,
                         pad_token_id=PAD, return_dict_in_generate=True, output_scores=True, **settings)
    sequences = []
    for row in out.sequences[:, width:].tolist():
        sequences.append([t for t in row if t != PAD])
    scores = out.sequences_scores.tolist() if settings.get("num_beams", 1) > 1 else [0.0] * len(prompts)
    return sequences, scores


def main():
    rng = np.random.default_rng(20261201)
    table = (rng.standard_normal((VOCAB, VOCAB)) * 1.5).astype(np.float32)
    bias = (rng.standard_normal((POSITIONS, VOCAB)) * 0.5).astype(np.float32)
    model = ToyDecoder(ToyConfig(), table, bias).eval()
    config = ToyConfig()
    config.num_hidden_layers = 1  # generate() sizes its cache from it
    embedding_model = ToyEmbeddingDecoder(config, table, bias).eval()

    beam = dict(num_beams=3, repetition_penalty=2.0, length_penalty=2.0)
    cases = [
        ("greedy", [[1, 5, 2]], dict(max_new_tokens=12, eos_token_id=None)),
        ("greedy_penalty_min_new", [[4, 4, 9]], dict(max_new_tokens=14, min_new_tokens=3, eos_token_id=7,
                                                     repetition_penalty=2.0)),
        ("greedy_batch", [[1, 5, 2], [8]], dict(max_new_tokens=10, eos_token_id=3, repetition_penalty=1.5)),
        ("beam_eos_early", [[2, 3]], dict(max_new_tokens=16, min_new_tokens=2, eos_token_id=0, **beam)),
        ("beam_eos_after_min_new", [[2, 3]], dict(max_new_tokens=16, min_new_tokens=9, eos_token_id=0, **beam)),
        ("beam_no_eos_hit", [[11, 12, 13]], dict(max_new_tokens=8, min_new_tokens=8, eos_token_id=5, **beam)),
        ("beam_plain", [[7]], dict(max_new_tokens=10, eos_token_id=1, num_beams=3)),
        ("beam_four_negative_penalty", [[9, 1]], dict(max_new_tokens=12, eos_token_id=2, num_beams=4,
                                                      length_penalty=-0.5, repetition_penalty=1.3)),
        ("beam_batch", [[2, 3, 10, 14], [5]], dict(max_new_tokens=16, min_new_tokens=3, eos_token_id=13, **beam)),
    ]
    # From embeddings the processors see no prompt ids: the penalty counts generated tokens only.
    embedding_cases = [
        ("embeds_greedy_penalty", [[2, 3], [8, 8]], dict(max_new_tokens=12, eos_token_id=None, repetition_penalty=2.0)),
        ("embeds_beam", [[2, 3], [8, 8]], dict(max_new_tokens=16, min_new_tokens=3, eos_token_id=0, **beam)),
    ]
    records = []
    for name, prompts, settings in embedding_cases:
        sequences, scores = run_from_embeddings(embedding_model, prompts, settings)
        with_ids, _ = run_case(model, prompts, settings)
        assert sequences != with_ids, (name, "the prompt ids must matter for this case to test anything")
        config = dict(max_new_tokens=settings["max_new_tokens"], min_new_tokens=settings.get("min_new_tokens", 0),
                      eos_id=-1 if settings["eos_token_id"] is None else settings["eos_token_id"],
                      num_beams=settings.get("num_beams", 1), repetition_penalty=settings["repetition_penalty"],
                      length_penalty=settings.get("length_penalty", 1.0))
        records.append(dict(name=name, prompts=prompts, from_embeddings=True, config=config, sequences=sequences,
                            scores=scores))
        print(name, sequences, [round(s, 4) for s in scores], "with prompt ids:", with_ids)
    # A seeded sweep over the settings, for the paths the named cases miss (K up to 5, zero and
    # negative length penalties, max_new_tokens 1, EOS that is never or always likely).
    sweep = np.random.default_rng(7)
    for i in range(40):
        beams = int(sweep.integers(1, 6))
        prompts = [[int(t) for t in sweep.integers(0, VOCAB, int(sweep.integers(1, 5)))]
                   for _ in range(int(sweep.integers(1, 3)))]
        eos = None if sweep.random() < 0.2 else int(sweep.integers(0, VOCAB))
        settings = dict(max_new_tokens=int(sweep.integers(1, 15)), min_new_tokens=int(sweep.integers(0, 6)),
                        eos_token_id=eos, repetition_penalty=float(sweep.choice([1.0, 1.3, 2.0])))
        if beams > 1:
            settings.update(num_beams=beams, length_penalty=float(sweep.choice([-1.0, 0.0, 1.0, 2.0])))
        cases.append(("sweep_%d" % i, prompts, settings))
    for name, prompts, settings in cases:
        sequences, scores = run_case(model, prompts, settings)
        # Every beam case is also run one prompt at a time: batching must not change a row.
        for i, p in enumerate(prompts):
            if name.startswith("sweep"):
                break
            alone, _ = run_case(model, [p], settings)
            assert alone[0] == sequences[i], (name, alone, sequences)
        eos = settings.get("eos_token_id")
        config = dict(max_new_tokens=settings["max_new_tokens"], min_new_tokens=settings.get("min_new_tokens", 0),
                      eos_id=-1 if eos is None else eos, num_beams=settings.get("num_beams", 1),
                      repetition_penalty=settings.get("repetition_penalty", 1.0),
                      length_penalty=settings.get("length_penalty", 1.0))
        records.append(dict(name=name, prompts=prompts, from_embeddings=False, config=config, sequences=sequences,
                            scores=scores))
        ended = ["eos at %d" % (len(s)) if s and s[-1] == eos else "max (%d)" % len(s) for s in sequences]
        print(name, sequences, [round(s, 4) for s in scores], ended)

    fixture = dict(source="tests/golden/make_generation_golden.py", vocab=VOCAB, positions=POSITIONS,
                   table=[float(v) for v in table.reshape(-1)], bias=[float(v) for v in bias.reshape(-1)],
                   cases=records)
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "generation", "toy_generate.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

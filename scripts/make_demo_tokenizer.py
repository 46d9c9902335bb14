"""Trains configs/demo_tokenizer.model, the SentencePiece vocabulary of the phantom demo.

The phantom reports (train/data/phantom_report.cpp) use about 160 words; a 512-piece BPE model (256 of them byte-fallback pieces)
trained on their cleaned text gives one piece per word, so a report is ~30 tokens and the demo's
LLM has a small embedding and head. Byte fallback keeps any other text encodable.

    build/bin/emrrg make-demo-data --out /tmp/phantom --n 2000 --size 16
    /work/pyenv/bin/python scripts/make_demo_tokenizer.py /tmp/phantom/annotation.json configs/demo_tokenizer.model
"""
import json
import re
import sys
import tempfile

import sentencepiece as spm


def clean(report):  # close enough to R2Gen's IU cleaning for choosing the pieces
    sentences = [re.sub(r"[.,?;*!%^&_+():\[\]{}]", "", s).strip() for s in report.lower().split(". ")]
    return " . ".join(s for s in sentences if s) + " ."


def main(annotation, out_model):
    doc = json.load(open(annotation))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for split in ("train", "val", "test"):
            for entry in doc[split]:
                f.write(clean(entry["report"]) + "\n")
        corpus = f.name
    prefix = out_model[: -len(".model")]
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=512,
                                   character_coverage=1.0, byte_fallback=True, unk_id=0, bos_id=1, eos_id=2,
                                   pad_id=-1, num_threads=1, minloglevel=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""A small Qwen2-style byte-level BPE tokenizer.json and its encodings, the oracle of
tests/data/test_bpe_tokenizer.cpp.

The tokenizer is trained here with the `tokenizers` package on radiology-like sentences, with the
pipeline of Qwen2's tokenizer.json: NFC normaliser; pre-tokenizer Split(Qwen2's regex, isolated)
then ByteLevel(add_prefix_space=False, use_regex=False); BPE without unk; ByteLevel decoder;
Qwen's special tokens added after training (so, as in Qwen, they follow the learnt vocabulary)
and a few non-special added tokens (one matched on the normalised text, one with lstrip/rstrip).

Run: /work/pyenv/bin/python tests/golden/make_bpe_golden.py
Writes tests/fixtures/tokenizers/qwen2_style_bpe.json (the tokenizer) and
tests/fixtures/tokenizers/qwen2_style_bpe_vectors.json (texts, ids, decoded texts).
"""
import json
import os

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                 r"""\s*[\r\n]+|\s+(?!\S)|\s+""")

CORPUS = """The heart is normal in size. The mediastinum is unremarkable.
The lungs are clear. There is no pneumothorax or pleural effusion.
No focal consolidation, pleural effusion, or pneumothorax is seen.
Cardiomediastinal silhouette is within normal limits.
There is a small left pleural effusion with adjacent atelectasis.
Mild cardiomegaly. No acute osseous abnormality.
Degenerative changes of the thoracic spine are noted.
The right costophrenic angle is blunted, which may represent a trace effusion.
Stable 1.2 cm nodule in the right upper lobe, unchanged since 2019.
Interval placement of a right internal jugular central venous catheter; tip at the cavoatrial junction.
Endotracheal tube terminates 4 cm above the carina. Nasogastric tube courses below the diaphragm.
Low lung volumes with bibasilar opacities, likely atelectasis; pneumonia can't be excluded.
There's mild pulmonary vascular congestion without frank edema.
Findings: Patchy airspace opacity in the left lower lobe, concerning for pneumonia.
Impression: 1. No acute cardiopulmonary process. 2. Hyperinflated lungs, consistent with COPD.
Comparison is made to the prior study from 03/14/2021.
Sternotomy wires and mediastinal clips are intact. Heart size is top normal.
The aorta is tortuous and calcified. Hilar contours are normal.
No pneumothorax. Moderate right pleural effusion has increased since the prior exam.
Calcified granuloma in the left mid lung. Osseous structures are intact.
AP portable upright view of the chest. Lateral view was not obtained.
Right-sided PICC line ends in the lower SVC. Left chest wall pacemaker with leads in the right atrium and ventricle.
Bilateral interstitial opacities, worse at the bases, could represent edema or infection.
There is elevation of the right hemidiaphragm. No free air under the diaphragm.
Multiple healed left rib fractures. Surgical clips in the right upper quadrant.
Le cœur est de taille normale. Épanchement pleural gauche. Poumons clairs, pas de pneumothorax.
Das Herz ist normal groß. Kein Pleuraerguss. Zwerchfell glatt begrenzt.
心脏大小正常。双肺清晰,未见胸腔积液。
胸部X線写真:心拡大なし。肺野に異常影なし。
Patient is a 67-year-old woman with cough 🤒 and fever 🌡️; follow-up in 6–8 weeks.
We'll review it; they're sure it's fine, I'm told, you've seen it, he'd agree.
    Indented line with tabs\tand  double  spaces.
Line one
Line two

Line four after a blank line.
"""

TEXTS = [
    "The heart is normal in size. The lungs are clear.",
    "No pneumothorax or pleural effusion.\nMild cardiomegaly.",
    "Stable 12.75 mm nodule since 2019; 3 of 4 views, 10000 pixels.",
    "Épanchement pleural, cœur normal, naïve façade, résumé.",
    # NFC: "e" + combining acute (decomposed) must encode like the precomposed é.
    "Cafe\u0301 and cafe\u0301s and Cafe\u0301.",
    "心脏大小正常。肺野に異常影なし。",
    "Fever 🤒🌡️ and 👩‍⚕️ doctor, 🇫🇷 flag.",
    "spaces   between    words     and trailing   ",
    "   leading spaces",
    "tabs\t\tand\nnewlines\n\n\nand\r\nwindows\r\nline ends",
    "\n\n",
    " ",
    "",
    "a",
    "UPPER case AND Mixed CaSe, IT'S and It'S and we'LL.",
    "<|im_start|>system\nYou are a radiologist.<|im_end|>\n<|im_start|>user\nDescribe the film.<|im_end|>\n",
    "Findings<|endoftext|>Impression<|endoftext|><|endoftext|>",
    "Human: <Img></Img> Generate a comprehensive and detailed diagnosis report for this chest xray image. \nAssistant:",
    "Report  [SEP]  next section",
    "<|im_start|<|im_end|><|im_end|>",
    "unicode spaces:\u00a0no-break,\u3000ideographic, \u2028line separator.",
    "more:\u0085next line\u2003em space\u200bzero width\ufeffbom \u180emongolian\u180e vowel x\u180e\u180e\u180ey\u3000\u3000\u3000z",
    "punctuation!!! ??? ... --- (brackets) [more] {braces} \"quotes\" 'single' `tick`",
    "x" * 40 + " " + "ab" * 15,
    "Ω≈ç√∫˜µ≤≥÷ αβγ ∑∏ ℃ ①②③ ¼½",
    "numbers: 0 1 2 3 4 5 6 7 8 9 ٣ ४ 三",
]


def build():
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=700, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    lines = CORPUS.splitlines(keepends=True)
    tok.train_from_iterator(lines * 3, trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]])
    tok.add_tokens([AddedToken("<Img>", special=False, normalized=False),
                    AddedToken("</Img>", special=False, normalized=True),
                    AddedToken("[SEP]", special=False, normalized=False, lstrip=True, rstrip=True)])
    return tok


VARIANT_TEXTS = ["Stable 12.75 mm nodule since 2019; 3 of 4 views.", "a77b 777 7 x7x", "  it's  here\n\n", "Café 心脏 🤒"]


def gpt2_style_variant(tokenizer_json):
    """The same vocabulary with GPT-2's pre-tokenizer (ByteLevel use_regex=true) and the byte '7'
    removed from the vocabulary (with its merges), <unk> = 'x' fused per run."""
    j = json.loads(tokenizer_json)
    j["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    del j["model"]["vocab"]["7"]
    j["model"]["merges"] = [m for m in j["model"]["merges"] if "7" not in m[0] and "7" not in m[1]]
    j["model"]["unk_token"] = "x"
    j["model"]["fuse_unk"] = True
    return Tokenizer.from_str(json.dumps(j))


def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tokenizers")
    tok = build()
    tok_path = os.path.join(out_dir, "qwen2_style_bpe.json")
    tok.save(tok_path, pretty=True)
    tok = Tokenizer.from_file(tok_path)  # vectors from the file as saved, as the C++ side reads it
    vectors = []
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        vectors.append(dict(text=text, ids=ids, decoded=tok.decode(ids, skip_special_tokens=True)))
    variant = gpt2_style_variant(tok.to_str())
    variant_vectors = []
    for text in VARIANT_TEXTS:
        ids = variant.encode(text, add_special_tokens=False).ids
        variant_vectors.append(dict(text=text, ids=ids, decoded=variant.decode(ids, skip_special_tokens=True)))
    with open(os.path.join(out_dir, "qwen2_style_bpe_vectors.json"), "w", encoding="utf-8") as f:
        json.dump(dict(source="tests/golden/make_bpe_golden.py", tokenizer="qwen2_style_bpe.json",
                       vectors=vectors, gpt2_style_variant=variant_vectors), f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("vocab", tok.get_vocab_size(), "texts", len(vectors))
    for v in vectors[:6]:
        print(len(v["ids"]), v["ids"][:20], repr(v["decoded"][:40]))


if __name__ == "__main__":
    main()

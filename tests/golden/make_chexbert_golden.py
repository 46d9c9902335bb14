"""A tiny random CheXbert (transformers' BertModel + 14 linear heads on [CLS]) saved with the
published checkpoint's layout, a small uncased WordPiece vocab.txt, and what transformers computes
with them: the oracle of tests/cpu/test_bert.cpp and tests/data/test_wordpiece_tokenizer.cpp.

- tests/fixtures/chexbert/vocab.txt: special tokens, punctuation, letters with their ## forms,
  digits, radiology words and word pieces, a few CJK characters (not bert-base-uncased's vocab;
  built here so the fixture is small).
- tests/fixtures/chexbert/chexbert.pth: torch.save({"epoch", "model_state_dict",
  "optimizer_state_dict"}) as CheXbert's training script writes it from nn.DataParallel: keys
  module.bert.* (pooler and the old position_ids buffer included) and
  module.linear_heads.{0..13}.{weight,bias}; 13 heads of 4 classes, No Finding of 2.
  BertConfig: hidden 32, 2 layers, 2 heads, intermediate 64, 512 positions, eps 1e-12, GELU (erf).
  Weights are drawn wider than BERT's initialisation so attention, the norms and the heads matter.
- tests/fixtures/chexbert/chexbert_golden.safetensors:
  * report_{i}_ids int64 [L_i]: CheXbert's tokenisation of REPORTS[i] (BertTokenizer's tokens,
    [CLS] ... [SEP], more than 512 ids cut to the first 511 plus [SEP]);
  * report_{i}_logits float32 [54]: the 14 heads' logits in CheXbert's order, concatenated,
    each report run alone (no padding);
  * report_{i}_classes int64 [14]: argmax per head;
  * batch_ids, batch_mask, batch_types int64 [3, L], batch_hidden float32 [3, L, 32]: BertModel's
    last hidden state for a right-padded batch with token types.
- tests/fixtures/chexbert/wordpiece_vectors.json: [{"text", "tokens", "ids"}] from
  BertTokenizerLegacy (the Python BertTokenizer CheXbert used), checked here against the
  tokenizers-backed BertTokenizer; ids are encode() with [CLS]/[SEP], truncated at 512.
- tests/fixtures/chexbert/config.json: the BertConfig (what tells a loader the head count).
- tests/fixtures/chexbert/reports.txt: REPORTS[:8], one per line, for the `emrrg eval` test.

Development only; run from the repository root:
  /work/pyenv/bin/python tests/golden/make_chexbert_golden.py
"""
import collections
import json
import pathlib

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel
from transformers.models.bert import BertTokenizer, BertTokenizerLegacy

OUT = pathlib.Path("tests/fixtures/chexbert")
OUT.mkdir(parents=True, exist_ok=True)
torch.manual_seed(16)

WORDS = """the heart is normal in size mediastinum unremarkable lungs are clear there no pneumothorax or
pleural effusion focal consolidation seen cardiomediastinal silhouette within limits small left right
with adjacent atelectasis mild cardiomegaly acute osseous abnormality edema pneumonia opacity lesion
fracture support devices tube line catheter enlarged lung possible may represent likely not excluded
cannot be exclude evidence of and a stable nodule upper lower lobe since prior study tip at above
carina moderate increased unchanged findings impression vascular congestion without bilateral trace
cafe resume naive over for to has been""".split()
PIECES = ["pneumo", "##thorax", "##thor", "##ax", "cardio", "##megaly", "##mediastinal", "effus", "##ion",
          "##s", "##ed", "##ing", "##ly", "##al", "##ic", "##ity", "opac", "##ities", "atel", "##ectasis",
          "consolid", "##ation", "re", "##sume", "un", "##known", "x", "##ray"]
CJK = ["肺", "心", "正", "常"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["¿", "«", "»", "–", "—", "…", "•"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
DIGITS = [str(d) for d in range(10)]
VOCAB = list(dict.fromkeys(SPECIAL + PUNCT + LETTERS + ["##" + c for c in LETTERS] + DIGITS +
                           ["##" + d for d in DIGITS] + WORDS + PIECES + CJK))
(OUT / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB), encoding="utf-8")

REPORTS = [
    "The heart is normal in size. The mediastinum is unremarkable. The lungs are clear.",
    "There is a small left pleural effusion with adjacent atelectasis.",
    "Mild cardiomegaly. No pneumothorax or pleural effusion.",
    "Possible right lower lobe pneumonia; consolidation cannot be excluded.",
    "Tube tip at 4 cm above the carina. Support devices unchanged.",
    "Moderate bilateral pleural effusions, increased since the prior study, and mild vascular congestion.",
    "No acute osseous abnormality. Stable 1.2 cm nodule in the right upper lobe.",
    "",
    "Enlarged cardiomediastinal silhouette, likely pericardial effusion vs. cardiomegaly!!",
    "Lung opacities (bilateral) may represent edema — or pneumonia.",
    "PNEUMOTHORAX: none. Café-au-lait spots? Naïve résumé x-ray.",
    " ".join(["pleural effusion with atelectasis and consolidation of the left lower lobe ."] * 60),
]

TOKENIZER_TEXTS = REPORTS[:11] + [
    "Hello, world!",
    "Ünïcödé àccents: ÀÉÎÕÜ çñ ß øå Ǆ ﬁ",
    "İstanbul ΣΊΣΥΦΟΣ Ὀδυσσεύς",
    "心正常。肺 正常，x肺y",
    "tabs\tand\nnewlines\r\n and  double   spaces \u00a0nbsp\u2003em\u3000ideographic",
    "control\u0000chars\u0007 and \ufffd replacement \u200b zero-width \u00ad soft-hyphen",
    "pneumothoraxes pneumothoraxing cardiomegalys unknownword zzzzq",
    "a" * 100 + " " + "a" * 101 + " " + "pneumo" * 17 + " " + "pneumo" * 16,
    "emoji 😀 and math ∑ ≥ ± ° µ and symbols $5 %20 ^caret ~tilde `tick` |pipe|",
    "[CLS] special [SEP] tokens [UNK] in text [MASK] [PAD] [cls]",
    "x-ray x–ray x—ray ¿qué? «quoted» …ellipsis• 1.2cm 3,5mm 10:30",
    "line\u2028and\u2029paragraph separators, a\x0bb\x0cc\x1cd\x85e",
    " \u0301a \u0301 b ab\u0301c Ａ１，",
    "x[SEP]y [SEP][SEP]",
    "   ",
    "",
    " ".join(["the heart"] * 300),
]


def tokenizers():
    legacy = BertTokenizerLegacy(str(OUT / "vocab.txt"), do_lower_case=True)
    fast = BertTokenizer(vocab=str(OUT / "vocab.txt"), do_lower_case=True)
    return legacy, fast


def chexbert_ids(tokenizer, text):
    # CheXbert's src/bert_tokenizer.py: tokenize, then encode the tokens; an empty report is
    # [CLS] [SEP]; past 512 ids, the first 511 and [SEP].
    tokens = tokenizer.tokenize(text)
    if not tokens:
        return [tokenizer.cls_token_id, tokenizer.sep_token_id]
    ids = [tokenizer.cls_token_id] + tokenizer.convert_tokens_to_ids(tokens) + [tokenizer.sep_token_id]
    return ids[:511] + [tokenizer.sep_token_id] if len(ids) > 512 else ids


def wordpiece_vectors(legacy, fast):
    vectors = []
    for text in TOKENIZER_TEXTS:
        tokens = legacy.tokenize(text)
        ids = chexbert_ids(legacy, text)
        assert fast.tokenize(text) == tokens, (text, fast.tokenize(text), tokens)
        assert chexbert_ids(fast, text) == ids, text
        assert legacy.encode(text) == fast.encode(text), text
        vectors.append({"text": text, "tokens": tokens, "ids": ids})
    (OUT / "wordpiece_vectors.json").write_text(json.dumps(vectors, ensure_ascii=False, indent=1) + "\n",
                                                encoding="utf-8")


class CheXbert(torch.nn.Module):
    """CheXbert's bert_labeler: BertModel, dropout, 13 heads of 4 classes and one of 2 on [CLS]."""

    def __init__(self, config):
        super().__init__()
        self.bert = BertModel(config)
        self.dropout = torch.nn.Dropout(0.1)
        hidden = config.hidden_size
        self.linear_heads = torch.nn.ModuleList([torch.nn.Linear(hidden, 4) for _ in range(13)] +
                                                [torch.nn.Linear(hidden, 2)])

    def forward(self, ids, mask):
        cls = self.dropout(self.bert(ids, attention_mask=mask).last_hidden_state[:, 0, :])
        return [head(cls) for head in self.linear_heads]


def widen(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif "embeddings" in name:
                p.normal_(0, 0.5)
            elif name.endswith("weight"):
                p.normal_(0, 0.25)
            else:
                p.normal_(0, 0.2)


def main():
    legacy, fast = tokenizers()
    wordpiece_vectors(legacy, fast)

    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                        layer_norm_eps=1e-12, pad_token_id=0, attn_implementation="eager")
    config.to_json_file(OUT / "config.json")
    model = CheXbert(config)
    widen(model)
    model.eval()

    state = collections.OrderedDict(("module." + k, v.clone()) for k, v in model.state_dict().items())
    state["module.bert.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-5).state_dict()
    torch.save({"epoch": 3, "model_state_dict": state, "optimizer_state_dict": optimizer}, OUT / "chexbert.pth")

    golden = {}
    with torch.no_grad():
        for i, report in enumerate(REPORTS):
            ids = torch.tensor([chexbert_ids(legacy, report)])
            logits = model(ids, torch.ones_like(ids))
            golden[f"report_{i}_ids"] = ids[0]
            golden[f"report_{i}_logits"] = torch.cat(logits, dim=1)[0].float()
            golden[f"report_{i}_classes"] = torch.stack([l.argmax(dim=1)[0] for l in logits])

        batch = [chexbert_ids(legacy, r) for r in (REPORTS[0], REPORTS[7], REPORTS[9])]
        length = max(len(b) for b in batch)
        ids = torch.tensor([b + [0] * (length - len(b)) for b in batch])
        mask = torch.tensor([[1] * len(b) + [0] * (length - len(b)) for b in batch])
        types = torch.randint(0, 2, ids.shape) * mask
        hidden = model.bert(ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        golden.update(batch_ids=ids, batch_mask=mask, batch_types=types, batch_hidden=hidden.contiguous())
    save_file(golden, OUT / "chexbert_golden.safetensors")

    (OUT / "reports.txt").write_text("".join(r + "\n" for r in REPORTS[:8]), encoding="utf-8")
    classes = torch.stack([golden[f"report_{i}_classes"] for i in range(len(REPORTS))])
    print("vocab", len(VOCAB), "classes per report:\n", classes)


if __name__ == "__main__":
    main()

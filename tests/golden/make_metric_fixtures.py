#!/usr/bin/env python3
"""Development-only generator of metric fixtures (CI never runs Python).

Builds a deterministic corpus of radiology-style hypothesis/reference pairs (raw and cleaned
text, punctuation and tokenizer corner cases, several references for some images, empty
hypotheses) and scores it with pycocoevalcap (BLEU, ROUGE-L, CIDEr) and with METEOR 1.5's own
jar as pycocoevalcap runs it (-stdio -l en -norm), once with the modules this project has
(exact stem synonym: the paraphrase table is unavailable) and once with the jar's default
modules, to count how often the paraphrase module changes a segment.

    python3 -m venv /tmp/pyc && /tmp/pyc/bin/pip install pycocoevalcap
    /tmp/pyc/bin/python tests/golden/make_metric_fixtures.py tests/fixtures/metrics

Also writes meteor_stress.tsv: 600 pairs built to stress METEOR's beam search (shuffled words
with many repeats, dropped words, random word salad), hypothesis TAB references TAB METEOR
(paraphrase off), then CORPUS TAB score.

Writes metric_corpus.tsv: hypothesis TAB references joined by " ||| " TAB METEOR TAB
ROUGE_L TAB CIDEr per image, then a line CORPUS TAB METEOR TAB ROUGE_L TAB CIDEr TAB
BLEU_1 TAB BLEU_2 TAB BLEU_3 TAB BLEU_4.
"""
import os
import random
import subprocess
import sys

import pycocoevalcap.meteor.meteor as pyc_meteor
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

SENTENCES = [
    "the heart is normal in size", "heart size is normal", "the cardiac silhouette is enlarged",
    "mild cardiomegaly", "the heart is mildly enlarged", "the lungs are clear",
    "lungs are clear bilaterally", "no pneumothorax", "no pleural effusion",
    "small left pleural effusion", "there is no focal consolidation",
    "no focal airspace consolidations", "bibasilar atelectasis", "the mediastinum is unremarkable",
    "degenerative changes of the thoracic spine", "no acute cardiopulmonary process",
    "stable calcified granuloma in the right upper lobe", "interval removal of the endotracheal tube",
    "pulmonary vascular congestion", "mild pulmonary edema", "cannot exclude a small effusion",
    "possible pneumonia in the left lower lobe", "patchy opacities are seen in the right base",
    "the osseous structures are intact", "sternotomy wires are in place",
    "the picc line terminates in the svc", "no evidence of fracture", "large right pneumothorax",
    "the cardiomediastinal silhouette is within normal limits", "increased interstitial markings",
    "hyperinflated lungs consistent with copd", "left basilar opacity likely atelectasis",
    "there are low lung volumes", "the trachea is midline", "enlarged heart",
    "the lung fields are unclouded", "big heart", "a nodule is seen in the left apex",
    "the costophrenic angles are sharp", "no effusions", "effusion is unchanged",
]
RAW = [
    "The heart is normal in size. The lungs are clear.",
    "Heart size normal; lungs clear.", "No pneumothorax, effusion, or consolidation.",
    "1. No acute process. 2. Stable cardiomegaly.", "Low lung volumes... No focal opacity.",
    "PICC line tip in the SVC/RA junction.", "AP and lateral views: no change since 10/12.",
    "The patient's ET tube is 3.5 cm above the carina.", "Dr. Smith was notified at 5 p.m.",
    "U.S.-guided thoracentesis--no pneumothorax.", "Mild \u201cground-glass\u201d opacities.",
    "It's unchanged; there isn't any effusion.", "Cardiomegaly (moderate) with edema!",
    "Lungs: clear. Heart: normal.", "No. 2 rib fracture, healing.", "Right-sided chest tube.",
    "Vs. prior, increased opacity at the bases.", "1,000 mL drained, no PTX.",
]


def sentence_text(rng, k):
    return " . ".join(rng.choice(SENTENCES) for _ in range(k)) + " ."


def corpus(rng):
    hyps, refs = [], []
    for i in range(320):
        kind = i % 8
        nref = 1 if rng.random() < 0.8 else rng.choice([2, 3])
        if kind == 6:
            r = [rng.choice(RAW) for _ in range(nref)]
            h = rng.choice(RAW)
        else:
            r = [sentence_text(rng, rng.randint(1, 5)) for _ in range(nref)]
            if kind == 0:
                h = r[0]
            elif kind == 7 and i % 40 == 7:
                h = ""
            else:
                h = sentence_text(rng, rng.randint(1, 5))
        hyps.append(h)
        refs.append(r)
    return hyps, refs


def stress_corpus(rng):
    words = " ".join(SENTENCES + RAW).replace(".", " . ").split()
    hyps, refs = [], []
    for i in range(600):
        kind = i % 4
        if kind == 0:
            r = " ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))
            h = " ".join(rng.sample(r.split(), len(r.split())))
        elif kind == 1:
            r = sentence_text(rng, rng.randint(3, 8))
            h = " ".join(w for w in r.split() if rng.random() < 0.7)
        elif kind == 2:
            r = rng.choice(RAW) + " " + rng.choice(RAW)
            h = rng.choice(RAW) + " " + sentence_text(rng, 2)
        else:
            r = " ".join(rng.choice(words) for _ in range(rng.randint(1, 60)))
            h = " ".join(rng.choice(words) for _ in range(rng.randint(0, 60)))
        hyps.append(h)
        refs.append([r] + ([sentence_text(rng, 3)] if rng.random() < 0.2 else []))
    return hyps, refs


def meteor(hyps, refs, modules):
    jar_dir = os.path.dirname(pyc_meteor.__file__)
    cmd = ["java", "-jar", "-Xmx2G", "meteor-1.5.jar", "-", "-", "-stdio", "-l", "en", "-norm"]
    if modules:
        cmd += ["-m", modules]
    p = subprocess.Popen(cmd, cwd=jar_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    eval_line = "EVAL"
    for h, r in zip(hyps, refs):
        h = h.replace("|||", "").replace("  ", " ")
        p.stdin.write((" ||| ".join(("SCORE", " ||| ".join(r), h)) + "\n").encode())
        p.stdin.flush()
        eval_line += " ||| " + p.stdout.readline().decode().strip()
    p.stdin.write((eval_line + "\n").encode())
    p.stdin.flush()
    seg = [float(p.stdout.readline()) for _ in hyps]
    total = float(p.stdout.readline())
    p.stdin.close()
    p.wait()
    return seg, total


def main():
    out_dir = sys.argv[1]
    hyps, refs = corpus(random.Random(20240601))
    gts = {i: r for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_img = Rouge().compute_score(gts, res)
    cider, cider_img = Cider().compute_score(gts, res)
    seg, total = meteor(hyps, refs, "exact stem synonym")
    seg_para, total_para = meteor(hyps, refs, None)
    changed = sum(1 for a, b in zip(seg, seg_para) if abs(a - b) > 1e-12)
    print(f"paraphrase module changes {changed}/{len(seg)} segments; corpus "
          f"{total!r} (off) vs {total_para!r} (on)", file=sys.stderr)
    with open(os.path.join(out_dir, "metric_corpus.tsv"), "w", encoding="utf-8") as f:
        for h, r, m, rg, c in zip(hyps, refs, seg, rouge_img, cider_img):
            f.write(f"{h}\t{' ||| '.join(r)}\t{m!r}\t{float(rg)!r}\t{float(c)!r}\n")
        f.write("CORPUS\t" + "\t".join(repr(float(v)) for v in [total, rouge, cider] + list(bleu)) + "\n")
    s_hyps, s_refs = stress_corpus(random.Random(7))
    s_seg, s_total = meteor(s_hyps, s_refs, "exact stem synonym")
    with open(os.path.join(out_dir, "meteor_stress.tsv"), "w", encoding="utf-8") as f:
        for h, r, m in zip(s_hyps, s_refs, s_seg):
            f.write(f"{h}\t{' ||| '.join(r)}\t{m!r}\n")
        f.write(f"CORPUS\t{s_total!r}\n")


if __name__ == "__main__":
    main()

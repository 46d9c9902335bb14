#!/usr/bin/env python3
"""Writes the tour's diagrams (docs/mamba/figures/*.svg); standard library only, development only.

  scan_orders.svg  the four scans of ARM's "v3" mixer over a 4 x 4 patch grid with the middle
                   class token (the first two are Vim's "v2"), in the order of
                   nn::column_major_order (nn/mamba_mixer.cpp) and train::scan_token_order
  mixer.svg        the Mamba mixer with X, Z, dt, B, C marked and where each adapter of the
                   paper's Table 6 adds its low-rank term (models/vision_mamba/config.h)
  chunks.svg       the chunked scan: per-chunk composition of (a, b) steps, the carried prefix

Run from anywhere: python3 docs/mamba/figures/make_figures.py
"""
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


def svg(width, height, body):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">\n<rect width="100%" height="100%" fill="white"/>\n'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>\n'
            + body + '</svg>\n')


def text(x, y, s, size=13, anchor="middle", weight="normal", fill="#222"):
    return (f'<text x="{x}" y="{y}" {FONT} font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{s}</text>\n')


def column_major_order(L):
    """nn::column_major_order: remove the class token at L // 2, transpose the grid, put it back."""
    n = round(math.sqrt(L - 1))
    p = L // 2
    with_cls = lambda k: k if k < p else k + 1
    order = []
    for j in range(L - 1):
        if j == p:
            order.append(p)
        row, col = j % n, j // n
        order.append(with_cls(row * n + col))
    if p == L - 1:
        order.append(p)
    return order


def scan_orders():
    n, L = 4, 17  # ARM needs an even grid: then the class token M / 2 is also L // 2
    cls = L // 2
    forward = list(range(L))
    column = column_major_order(L)
    orders = [("forward (Vim, ARM)", forward), ("backward = flipped (Vim, ARM)", forward[::-1]),
              ("column (ARM)", column), ("column backward (ARM)", column[::-1])]
    cell, gap, top = 48, 40, 70
    panel = n * cell + 80
    body = text(2 * panel + gap, 28, "The scans of the mixer over a 4 x 4 patch grid; the class token (CLS) is "
                "token 8, the middle of the sequence (between p7 and p8)", 15, weight="bold")
    for k, (title, order) in enumerate(orders):
        x0 = 20 + k * (panel + gap)
        body += text(x0 + panel / 2, top - 14, title, 14, weight="bold")

        def centre(token):
            if token == cls:
                return x0 + n * cell + 40, top + cell * 1.5
            patch = token if token < cls else token - 1
            return x0 + (patch % n) * cell + cell / 2, top + (patch // n) * cell + cell / 2

        for patch in range(n * n):
            r, c = divmod(patch, n)
            body += (f'<rect x="{x0 + c * cell}" y="{top + r * cell}" width="{cell}" height="{cell}" '
                     'fill="#eef3f8" stroke="#8aa" />\n')
        cx, cy = centre(cls)
        body += f'<circle cx="{cx}" cy="{cy}" r="22" fill="#fdf3d0" stroke="#c90"/>\n'
        points = [centre(t) for t in order]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body += (f'<polyline points="{path}" fill="none" stroke="#3a6" stroke-width="2" opacity="0.8" '
                 'marker-end="url(#arrow)"/>\n')
        for step, token in enumerate(order):
            x, y = centre(token)
            label = "CLS" if token == cls else f"p{token if token < cls else token - 1}"
            body += text(x, y - 6, label, 11, fill="#667")
            body += text(x, y + 12, str(step), 15, weight="bold", fill="#135")
        body += text(x0 + panel / 2, top + n * cell + 24, "bold: the step at which the scan reads the token", 11)
    return svg(4 * panel + 3 * gap + 40, top + n * cell + 40, body)


def box(x, y, w, h, label, fill="#eef3f8", stroke="#678", size=13, sub=None):
    s = f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{stroke}"/>\n'
    s += text(x + w / 2, y + h / 2 + (0 if sub else 5), label, size, weight="bold")
    if sub:
        s += text(x + w / 2, y + h / 2 + 16, sub, 11, fill="#444")
    return s


def arrow(x1, y1, x2, y2, label=None, dx=6, colour="#333"):
    s = (f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" stroke-width="1.6" '
         'marker-end="url(#arrow)"/>\n')
    if label:
        s += text((x1 + x2) / 2 + dx, (y1 + y2) / 2 - 4, label, 12, anchor="start", weight="bold", fill="#a33")
    return s


def adapter(x, y, label):
    return (f'<rect x="{x}" y="{y}" width="{8 * len(label) + 14}" height="22" rx="11" fill="#fde2e2" '
            f'stroke="#c44"/>\n' + text(x + (8 * len(label) + 14) / 2, y + 15, label, 12, fill="#a11"))


def mixer():
    b = text(470, 26, "One scan of the Mamba mixer (nn/mamba_mixer.cpp, MambaMixer::run_scan) and the adapters "
             "of Table 6", 15, weight="bold")
    b += box(380, 50, 180, 40, "h [B, L, d_model]", fill="#f4f4f4")
    b += arrow(470, 90, 470, 120)
    b += box(330, 120, 280, 46, "in_proj", sub="rows [0, d_inner) X  |  [d_inner, 2 d_inner) Z")
    b += adapter(620, 120, "LoRA(in_proj)")
    b += adapter(620, 146, "LoRA_p(X) rows of X, LoRA_p(Z) rows of Z")
    # X branch
    b += arrow(400, 166, 250, 210, "X")
    b += box(160, 210, 180, 40, "conv1d + silu", sub="causal, width 4")
    b += arrow(250, 250, 250, 290, "u")
    b += box(115, 290, 270, 46, "x_proj", sub="rows dt [0, R) | B [R, R+N) | C [R+N, R+2N)")
    b += adapter(395, 284, "LoRA(x_proj)")
    b += adapter(395, 310, "LoRA_p(dt|B|C): their rows")
    b += arrow(170, 336, 110, 400, "dt", dx=-28)
    b += box(40, 400, 140, 40, "dt_proj", sub="R -> d_inner, bias")
    b += adapter(40, 446, "LoRA(dt_proj)")
    b += arrow(110, 440, 300, 500, "delta (raw)", dx=-40)
    b += arrow(250, 336, 370, 500, "B", dx=-14)
    b += arrow(320, 336, 420, 500, "C", dx=4)
    b += arrow(270, 250, 470, 500, "u", dx=8)
    b += '<polyline points="580,166 860,250" fill="none" stroke="#333" stroke-width="1.6"/>\n'
    b += text(730, 196, "Z (the gate)", 12, anchor="start", weight="bold", fill="#a33")
    b += arrow(860, 250, 680, 500)
    b += box(250, 500, 440, 56, "selective_scan", fill="#e6f4ea", stroke="#396",
             sub="delta' = softplus(delta + bias); h = exp(delta' A) h + delta' B u; (C.h + D u) silu(Z)")
    b += text(830, 560, "A = -exp(A_log), D:", 12, fill="#444")
    b += text(830, 576, "per channel", 12, fill="#444")
    b += arrow(470, 556, 470, 620, "y * silu(Z)", dx=8)
    b += box(330, 620, 280, 40, "combine the scans", sub="v2: mean of 2, v3: mean of 4 (token order)")
    b += arrow(470, 660, 470, 690)
    b += box(380, 690, 180, 40, "out_proj")
    b += adapter(570, 699, "LoRA(out_proj)")
    b += text(470, 760, "Outside the mixer: LoRA(embedding) on patch_embed.proj; LoRA(Llama2) in the decoder. "
              "The paper's EMRRG: LoRA_p(X) + LoRA(in_proj), rank 32.", 12, fill="#444")
    return svg(960, 780, b)


def chunks():
    b = text(430, 24, "Chunked scan: each chunk composes its steps (a_t, b_t) in parallel; one carried prefix "
             "per chunk boundary", 14, weight="bold")
    per, w, top = 4, 46, 60
    for c in range(3):
        x0 = 30 + c * (per * w + 70)
        b += text(x0 + per * w / 2, top - 10, f"chunk {c}", 13, weight="bold")
        for i in range(per):
            t = c * per + i
            b += box(x0 + i * w, top, w - 6, 34, f"t={t}", size=11)
        b += (f'<path d="M {x0} {top + 44} Q {x0 + per * w / 2} {top + 84} {x0 + per * w - 6} {top + 44}" '
              'fill="none" stroke="#396" stroke-width="1.5"/>\n')
        b += text(x0 + per * w / 2, top + 100, "(P_a, P_b) local prefixes", 11, fill="#396")
        if c < 2:
            xe = x0 + per * w - 6
            b += arrow(xe, top + 17, xe + 64, top + 17)
            b += text(xe + 32, top + 8, "h_in", 12, weight="bold", fill="#a33")
    b += text(430, top + 130, "h_t = P_a(t) h_in + P_b(t); the same operator, run from the end, gives the "
              "backward's dh_t with carry a_{t1} dh_{t1}", 12)
    return svg(880, top + 150, b)


for name, content in [("scan_orders.svg", scan_orders()), ("mixer.svg", mixer()), ("chunks.svg", chunks())]:
    with open(os.path.join(HERE, name), "w") as f:
        f.write(content)
    print("wrote", name)

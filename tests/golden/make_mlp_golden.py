"""Writes tests/fixtures/mlp_golden.safetensors: an MLP (Linear-GELU-Linear), its inputs,
logits, loss, gradients, and the parameters after three AdamW steps and after three SGD
(momentum, Nesterov, weight decay) steps, all from PyTorch.

Development only; run from the repository root: python3 tests/golden/make_mlp_golden.py
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(1)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(5, 8)
        self.fc2 = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


model = MLP()
x = torch.randn(6, 5)
y = torch.tensor([0, 2, 1, 1, -100, 2])
out = {"x": x, "y": y}
for k, v in model.state_dict().items():
    out["init." + k] = v.clone()
logits = model(x)
loss = F.cross_entropy(logits, y)
loss.backward()
out["logits"] = logits.detach()
out["loss"] = loss.detach().reshape(())
for k, p in model.named_parameters():
    out["grad." + k] = p.grad.clone()


def run(make_opt, prefix):
    m = MLP()
    m.load_state_dict({k[5:]: v for k, v in out.items() if k.startswith("init.")})
    opt = make_opt(m.parameters())
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    for k, v in m.state_dict().items():
        out[prefix + k] = v.clone()


run(lambda p: torch.optim.AdamW(p, lr=1e-2, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1), "adamw.")
run(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), "sgd.")
save_file({k: v.contiguous() for k, v in out.items()}, "tests/fixtures/mlp_golden.safetensors")
print("wrote", len(out), "tensors")

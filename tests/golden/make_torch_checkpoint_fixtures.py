"""Writes tests/fixtures/torch_checkpoints/: small torch.save files for the checkpoint reader.

- dtypes.pth: {"model": state dict, "args": argparse.Namespace, "epoch": 7} like Vim's released
  checkpoints. The state dict holds every dtype the framework has (f32, f16, bf16, f64, int64,
  int32, uint8, bool), two tensors viewing one storage at different offsets, a transposed
  (non-contiguous) tensor, a 0-d and an empty tensor and an nn.Parameter.
- dtypes_protocol4.pth: the same saved with pickle protocol 4 (STACK_GLOBAL, MEMOIZE, FRAME).
- expected.safetensors: the values of dtypes.pth's state dict, contiguous, to compare against.
- ddp_state_dict.pth: {"state_dict": {"module.weight", "module.bias"}, "optimizer": {...}}, a
  Linear(4, 3) as DistributedDataParallel names it; linear_expected.safetensors has its tensors.
- lightning_like.pth: {"state_dict", "hyper_parameters": a dict subclass holding a torch.device,
  "best": a numpy float64}: classes a caller may declare plain records.
- bad_view.pth, bad_storage_size.pth: hand-made archives whose tensor reaches past its storage,
  and whose storage record is shorter than its declared size.
- legacy.pth: the pre-1.6 format (torch.save(..., _use_new_zipfile_serialization=False)).
- evil_*.pth: pickles that would run code when torch.load(weights_only=False) reads them:
  os.system, builtins.eval, builtins.exec inside an object's __reduce__ in an otherwise valid
  state dict, a plain instance of a class the reader does not know, and os.system reached via
  STACK_GLOBAL (protocol 4). Each payload would create /tmp/emrrg_pwned_<name>; the C++ test
  asserts the load is refused naming the global and that the file does not appear. This script
  checks with torch.load that the os.system payload is live (it creates and removes its file).

Development only; run from the repository root:
  /work/pyenv/bin/python tests/golden/make_torch_checkpoint_fixtures.py
"""
import argparse
import collections
import os
import pathlib

import torch
from safetensors.torch import save_file

OUT = pathlib.Path("tests/fixtures/torch_checkpoints")
OUT.mkdir(parents=True, exist_ok=True)
torch.manual_seed(7)


def pwned(name):
    return f"/tmp/emrrg_pwned_{name}"


base = torch.randn(12)
wide = torch.randn(3, 5)
sd = collections.OrderedDict()
sd["f32"] = torch.randn(2, 3)
sd["f16"] = torch.randn(4).half()
sd["bf16"] = torch.randn(2, 2).bfloat16()
sd["f64"] = torch.randn(3, dtype=torch.float64)
sd["i64"] = torch.tensor([1 << 40, -5, 0], dtype=torch.int64)
sd["i32"] = torch.tensor([[7, -8], [2**31 - 1, -(2**31)]], dtype=torch.int32)
sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
sd["bool"] = torch.tensor([True, False, True])
sd["shared_a"] = base[0:6].view(2, 3)  # one storage, two views at offsets 0 and 4
sd["shared_b"] = base[4:12]
sd["transposed"] = wide.t()  # (5, 3), strides (1, 5)
sd["scalar"] = torch.tensor(2.5)
sd["empty"] = torch.zeros(0, 4)
sd["param"] = torch.nn.Parameter(torch.randn(3))
args = argparse.Namespace(model="vim_tiny_patch16_224", lr=5e-4, epochs=300, drop_path=0.05,
                          flags=[1, 2], nested={"a": (1, 2.5)}, resume=None, eval=False)
checkpoint = {"model": sd, "args": args, "epoch": 7}
torch.save(checkpoint, OUT / "dtypes.pth")
torch.save(checkpoint, OUT / "dtypes_protocol4.pth", pickle_protocol=4)
save_file({k: v.detach().contiguous().clone() for k, v in sd.items()}, OUT / "expected.safetensors")

linear = torch.nn.Linear(4, 3)
ddp = collections.OrderedDict(("module." + k, v) for k, v in linear.state_dict().items())
optimizer = torch.optim.AdamW(linear.parameters()).state_dict()
torch.save({"state_dict": ddp, "optimizer": optimizer, "epoch": 1}, OUT / "ddp_state_dict.pth")
save_file({k: v.contiguous() for k, v in linear.state_dict().items()}, OUT / "linear_expected.safetensors")

torch.save({"w": torch.ones(2)}, OUT / "legacy.pth", _use_new_zipfile_serialization=False)


class SystemCall:
    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return (os.system, (f"touch {pwned(self.name)}",))


class Eval:
    def __reduce__(self):
        return (eval, (f"open('{pwned('eval')}', 'w')",))


class Exec:
    def __reduce__(self):
        return (exec, (f"open('{pwned('exec')}', 'w').close()",))


class Payload:
    """A plain record the reader does not know: Python would import __main__ and set attributes."""

    def __init__(self):
        self.command = f"touch {pwned('plain_object')}"


torch.save(SystemCall("os_system"), OUT / "evil_os_system.pth")
torch.save({"model": {"x": Eval()}}, OUT / "evil_eval.pth")
torch.save({"model": collections.OrderedDict(w=torch.ones(2), x=Exec())}, OUT / "evil_exec_reduce.pth")
torch.save({"model": {"w": torch.ones(2)}, "cfg": Payload()}, OUT / "evil_plain_object.pth")
torch.save({"model": SystemCall("stack_global")}, OUT / "evil_stack_global.pth", pickle_protocol=4)



class AttributeDict(dict):
    """Like Lightning's AttributeDict: a dict subclass (NEWOBJ, then SETITEMS on the object)."""


import numpy as np  # noqa: E402

hyper = AttributeDict(lr=0.1, device=torch.device("cpu"))
torch.save({"state_dict": {"w": torch.arange(3.0)}, "hyper_parameters": hyper, "best": np.float64(0.5)},
           OUT / "lightning_like.pth")

# Hand-made archives with inconsistent geometry, written like torch.save's but with a pickle whose
# tensor reaches past its storage, and one whose storage record is shorter than its declared size.
class StorageRef:
    pass


class TensorRef:
    def __init__(self, storage, size):
        self.storage, self.size = storage, size

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, 0, self.size, (1,), False, collections.OrderedDict()))


def write_handmade(name, size, numel, record_bytes):
    import io
    import pickle
    import zipfile
    storage = StorageRef()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel) if obj is storage else None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump({"w": TensorRef(storage, size)})
    with zipfile.ZipFile(OUT / f"{name}.pth", "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{name}/data.pkl", buf.getvalue())
        z.writestr(f"{name}/byteorder", "little")
        z.writestr(f"{name}/data/0", b"\0" * record_bytes)


write_handmade("bad_view", (100,), 6, 24)  # 100 elements of a 6-element storage
write_handmade("bad_storage_size", (6,), 6, 20)  # 6 floats declared, 20 bytes stored

# The payloads are live: torch.load without weights_only runs os.system.
if os.path.exists(pwned("os_system")):
    os.remove(pwned("os_system"))
torch.load(OUT / "evil_os_system.pth", weights_only=False)
assert os.path.exists(pwned("os_system")), "the os.system payload did not run"
os.remove(pwned("os_system"))

for p in sorted(OUT.iterdir()):
    print(p, p.stat().st_size)

"""Writes tests/fixtures/train/tensorboard/verdict.json: what TensorBoard's own reader
(tensorboard.backend.event_processing.EventAccumulator) finds in the committed event file
tests/fixtures/train/tensorboard/events.out.tfevents.fixture, which is the file emrrg's
TensorBoardWriter produces for the events of tests/train/test_tensorboard.cpp. The C++ test
checks that the writer still produces those bytes and that the verdict lists exactly the scalars
it wrote. The reader stops at the first record whose length or data CRC is wrong (it drops
the rest with a warning), so a verdict that lists every event also vouches for the framing.

When the writer changes on purpose, refresh the event file first:
  EMRRG_UPDATE_TB_FIXTURE=tests/fixtures/train/tensorboard/events.out.tfevents.fixture \
    build/bin/trainer_tests --gtest_filter='TensorBoard.*'
Development only; run from the repository root (pip install tensorboard):
  python3 tests/golden/read_tensorboard_events.py
"""
import json
import os

from tensorboard.backend.event_processing import event_accumulator, event_file_loader

DIR = "tests/fixtures/train/tensorboard"
PATH = os.path.join(DIR, "events.out.tfevents.fixture")

# The raw events, to see the file_version record TensorBoard requires first.
events = list(event_file_loader.RawEventFileLoader(PATH, detect_file_replacement=False).Load())
from tensorboard.compat.proto import event_pb2

first = event_pb2.Event.FromString(events[0])
assert first.file_version == "brain.Event:2", first

acc = event_accumulator.EventAccumulator(PATH, size_guidance={event_accumulator.SCALARS: 0})
acc.Reload()
scalars = {
    tag: [{"step": e.step, "value": e.value, "wall_time": e.wall_time} for e in acc.Scalars(tag)]
    for tag in sorted(acc.Tags()["scalars"])
}
verdict = {
    "file_version": first.file_version,
    "first_wall_time": first.wall_time,
    "events": len(events),
    "scalars": scalars,
}
with open(os.path.join(DIR, "verdict.json"), "w") as f:
    json.dump(verdict, f, indent=1, sort_keys=True)
    f.write("\n")
print(json.dumps(verdict, indent=1))

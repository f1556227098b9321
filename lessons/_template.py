# %% [markdown]
# # Lesson NN — Title
#
# What the learner will build, in two sentences. Copy this file to `lessons/NN_short_name.py`
# and follow the checklist in `CONTRIBUTING.md`.

# %%
# Setup: seed, device and CPU threads come from the lesson's settings entry
# (dlcv_utils/course/settings.py). Lessons never read environment variables or set threads.
import matplotlib.pyplot as plt
import torch

from dlcv_utils.course.settings import lesson_setup

device, cfg = lesson_setup("NN")
print(f"device: {device.type}")

# %% [markdown]
# ## 1. Write it in a cell
# Prose in English; Korean syllabus terms in parentheses, e.g. region proposal (영역 추정).
# The algorithm is written here, in the open, before the package version is used.


# %%
def box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


# %% [markdown]
# ## 2. Check it against the library
# Compare with the reference implementation (torchvision.ops, pycocotools, OpenCV).

# %%
import torchvision

boxes = torch.tensor([[0.0, 0.0, 4.0, 2.0], [1.0, 1.0, 2.0, 5.0]])
torch.testing.assert_close(box_area(boxes), torchvision.ops.box_area(boxes))

# %% [markdown]
# ## 3. Reuse it from the package
# From here on the lesson imports the tested version from its layer of `dlcv_utils`.

# %%
from dlcv_utils.ops.boxes import box_area as package_box_area

torch.testing.assert_close(package_box_area(boxes), box_area(boxes))

# %% [markdown]
# ## 4. Train with the shared recipe
# Training lessons build loaders, train and evaluate with `dlcv_utils.course.recipes` (the
# same code `benchmarks/bench_detectors.py` runs), with the sizes, epochs and floors of
# `cfg`. Output that depends on timing or training is ignored by nbval; assert the number
# that matters instead.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.report import key_figure

value = 0.9  # e.g. run.metrics["map50"] from recipes.train_and_evaluate
assert value >= 0.5  # e.g. cfg.train.map50_floor
key_figure("val mAP@0.5", value)

# %% [markdown]
# ## Summary
# * Three bullets a learner can repeat tomorrow.
#
# ## Glossary (용어)
# | English | 한국어 | section |
# |---|---|---|
# | region proposal | 영역 추정 | 1 |

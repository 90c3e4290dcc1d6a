"""The article's first example as a PyTorch loop: the training images arrive in class order and
are never shuffled, and the validation images are prepared differently (scaled to [0, 1] but not
normalised like the training images).

    PYTHONPATH=build/python /usr/bin/python3 examples/python/seed_1_unshuffled_mismatched_val.py

Diagnosis it gets (defaults: 6000 images, seed 0, measured by running it): exit 1, settled after
188 steps. 1. unshuffled_data 0.84 (the largest class fills 99% of a batch; fix: shuffle),
2. preprocessing_mismatch 0.60 (validation mean 0.29 std 0.36 against training 0.02 and 1.0),
3. lr_too_high 0.59 (the loss swings while the class order changes, then sits at chance). Lower
suspicions follow from the plateau at chance alone.
"""
import torch
from torch import nn

import lossdoctor
from fashion import arguments, finish, load, normalize

args = arguments(__doc__, steps=300)
images, labels = load("train", args.limit)
order = torch.argsort(labels, stable=True)  # class 0's images, then class 1's, ... (as a folder)
images, labels = normalize(images[order]), labels[order]
val_images, val_labels = load("val", 1000)
val_images = val_images / 255.0  # the bug: no normalize() here

model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
mon = lossdoctor.Monitor(model, optimizer, num_classes=10, criterion=criterion)

for step, start in enumerate(range(0, len(images), 32)):  # the bug: no shuffling
    if step >= args.steps:
        break
    x, y = images[start:start + 32], labels[start:start + 32]
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    mon.step(loss, inputs=x, targets=y)
    if step % 50 == 49:
        with torch.no_grad():
            model.eval()
            for vx in val_images.split(250):
                mon.validation_batch(vx)
            model.train()

finish(mon, args)

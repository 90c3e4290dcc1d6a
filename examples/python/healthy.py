"""A healthy PyTorch loop on Fashion-MNIST, watched by lossdoctor.Monitor: the control.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/healthy.py

Diagnosis it gets (defaults: 6000 images, seed 0, measured by running it): exit 0, verdict
healthy after 250 steps (loss 1.97 → 0.34); a weak lr_too_high suspicion (0.31) stays a note.
"""
import torch
from torch import nn

import lossdoctor
from fashion import arguments, finish, load, normalize

args = arguments(__doc__, steps=300)
images, labels = load("train", args.limit)
images = normalize(images)

model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
mon = lossdoctor.Monitor(model, optimizer, num_classes=10, criterion=criterion)

model.train()
step = 0
while step < args.steps:
    for batch in torch.randperm(len(images)).split(32):  # shuffled every epoch
        x, y = images[batch], labels[batch]
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        mon.step(loss, inputs=x, targets=y)
        step += 1
        if step >= args.steps or (mon.settled and not args.no_early_stop):
            step = args.steps
            break

finish(mon, args)

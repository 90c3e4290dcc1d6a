"""The article's second example as a PyTorch loop: a ReLU stack without batch norm whose last
layer is a softmax, fed to CrossEntropyLoss (which applies its own log-softmax to logits).

    PYTHONPATH=build/python /usr/bin/python3 examples/python/seed_2_no_batchnorm_softmax_logits.py

Diagnosis it gets (defaults: 6000 images, seed 0, measured by running it): exit 1, settled after
100 steps with one finding: loss_output_mismatch 0.85 (the outputs were already probabilities at
10 of 10 steps checked). The missing batch norm is not named: four weight layers are fewer
than the 8 at which missing_normalization is suspected, and no units died or gradients vanished.
"""
import torch
from torch import nn

import lossdoctor
from fashion import arguments, finish, load, normalize

args = arguments(__doc__, steps=300)
images, labels = load("train", args.limit)
images = normalize(images)

model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 128, 3), nn.ReLU(),
    nn.Flatten(), nn.Linear(128 * 3 * 3, 10),
    nn.Softmax(dim=1))  # the bug: CrossEntropyLoss expects logits
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
mon = lossdoctor.Monitor(model, optimizer, num_classes=10, criterion=criterion)

step = 0
while step < args.steps:
    for batch in torch.randperm(len(images)).split(32):
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

"""The article's third example as a PyTorch loop: batch norm, Adam at a learning rate of 1.0 and
batches of one image.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/seed_3_adam_lr1_batch1.py

Diagnosis it gets (defaults: 6000 images, seed 0, measured by running it): exit 1, settled after
100 steps. 1. lr_too_high 0.97 (the first update multiplied the loss by 256; fix: lr 0.001,
Adam's usual rate), 2. batch_too_small 0.61 (batches of 1; fix: 32), then bad_init_scale 0.30
(a layer 99% dead) and unnormalized_input 0.20 from the divergence alone.
"""
import torch
from torch import nn

import lossdoctor
from fashion import arguments, finish, load, normalize

args = arguments(__doc__, steps=300)
images, labels = load("train", args.limit)
images = normalize(images)

model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.ReLU(),
    nn.Flatten(), nn.Linear(128 * 3 * 3, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1.0)  # the bugs: lr 1.0 ...
criterion = nn.CrossEntropyLoss()
mon = lossdoctor.Monitor(model, optimizer, num_classes=10, criterion=criterion)

step = 0
while step < args.steps:
    for batch in torch.randperm(len(images)).split(1):  # ... and batches of one
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

"""bf16 against fp32 on this CPU, for the `cpu_fast` network: a training step on whole images, and prediction.

    .venv/bin/python bench/precision.py [--images 4] [--steps 5] [--threads 2]

Prints this CPU's vector unit, whether torch computes bf16 natively here (`dirtymnist.model.fast_bf16`: AMX or
AVX512-BF16), then, for fp32 and bf16 autocast in the same process: ms per training step of `--images` whole 256 px
images (forward with the orbit, a cell loss, backward, AdamW), and ms per image predicted (16 images a batch), each
after one warm-up, and the ratio bf16 / fp32. `train.precision: auto` follows `fast_bf16`.
"""
import argparse, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing
from dirtymnist.config import load_config
from dirtymnist.model import create_model, fast_bf16
from dirtymnist.config import config_to_dict


def timings(model, images, steps, dtype):
    "(ms a training step, ms an image predicted) under autocast to `dtype` (None: fp32)."
    ac = lambda: torch.autocast('cpu', dtype=dtype, enabled=dtype is not None)
    opt, x = torch.optim.AdamW(model.parameters(), 1e-3), model.padded(torch.rand(images, 1, 256, 256) * 2 - 1)
    def step():
        with ac(): loss = model.cells(x).float().logsumexp(1).mean()
        loss.backward(); opt.step(); opt.zero_grad()
    model.train(); step(); t = time.perf_counter()
    for _ in range(steps): step()
    train_ms = (time.perf_counter() - t) / steps * 1000
    xs = torch.rand(16, 1, 256, 256) * 2 - 1
    with torch.inference_mode(), ac():
        model.eval(); model(xs); t = time.perf_counter(); model(xs)
    return train_ms, (time.perf_counter() - t) / 16 * 1000


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--images', type=int, default=4, help='whole images a training step (the recipe: 4)')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    model = create_model('dm_windownet', **config_to_dict(load_config('cpu_fast').model.args))
    model = model.to(memory_format=torch.channels_last)
    print(f'CPU vector unit {torch.backends.cpu.get_cpu_capability()}, native bf16: {fast_bf16("cpu")}, '
          f'{a.threads} threads, torch {torch.__version__}')
    res = {}
    for name, dtype in (('fp32', None), ('bf16', torch.bfloat16)):
        res[name] = timings(model, a.images, a.steps, dtype)
        print(f'{name}: {res[name][0]:7.0f} ms a training step of {a.images} images, {res[name][1]:6.1f} ms an image '
              'predicted')
    print(f'bf16 / fp32: training {res["bf16"][0] / res["fp32"][0]:.2f}x the time, '
          f'prediction {res["bf16"][1] / res["fp32"][1]:.2f}x')


if __name__ == '__main__': main()

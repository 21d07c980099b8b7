"""Training throughput (images/s) of the fastai learner that `dirtymnist.learner.build_learner` makes.

Usage: python bench/train.py [--steps 4] [--threads N] [--only b0|s]

Cases (CPU, fp32, untrained weights, no gradient checkpointing):
  tf_efficientnetv2_b0 at 128 px, batch 32   (the `cpu_small` model)
  tf_efficientnetv2_s  at 256 px, batch 16

Each case runs the whole learner step: forward, BCE loss, backward, the timm optimizer step and every training
callback of the config (cosine schedule, step log, best weights, time budget). The input is one fixed batch already
in memory, so the figure is the model's cost alone; `bench/data.py` measures the data pipeline. One warm-up step,
then `--steps` timed steps; img/s = batch * steps / wall time, and img/CPU-s = the same over the process's CPU time
(all threads), which moves less when other work shares the machine. Set `--threads` to the cores you can spare; the
default is torch's (all cores).
"""
import argparse, sys, time, warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fastai.callback.core import Callback, CancelFitException
from fastai.data.core import DataLoaders
from dirtymnist.config import load_config
from dirtymnist.learner import build_learner


class FixedBatches:
    "A stand-in DataLoader that yields the same (x, y) batch `n` times: no data cost in the timings."
    n_inp = 1
    def __init__(self, x, y, n): self.x, self.y, self.n, self.device = x, y, n, x.device
    def __len__(self): return self.n
    def __iter__(self):
        for _ in range(self.n): yield self.x, self.y
    def to(self, device):
        self.x, self.y, self.device = self.x.to(device), self.y.to(device), torch.device(device)
        return self


def fixed_dls(bs, size, steps, device='cpu', seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(bs, 1, size, size, generator=g).sub_(0.5).div_(0.5)
    y = (torch.rand(bs, 26, generator=g) > 0.54).float()
    return DataLoaders(FixedBatches(x, y, steps).to(device), FixedBatches(x[:2], y[:2], 1).to(device), device=device)


class StepTimer(Callback):
    """Wall time of training steps after the first `warmup` (CUDA synchronised); resets the peak GPU memory after the
    warm-up.
    With `deadline` (a `time.perf_counter()` value) the fit stops before a step that would end past it (`self.cut`);
    `say` gets one line after the warm-up with the time it took and the estimate for the timed steps."""
    order = 99
    def __init__(self, warmup=1, deadline=None, say=None):
        self.warmup, self.deadline, self.say, self.times, self.cpu, self.cut = warmup, deadline, say, [], [], False
    def _sync(self):
        if torch.device(self.dls.device).type == 'cuda': torch.cuda.synchronize()
    def before_fit(self): self.t_fit = time.perf_counter()
    def before_batch(self):
        if self.training: self._sync(); self.t0, self.c0 = time.perf_counter(), time.process_time()
    def after_batch(self):
        if not self.training: return
        self._sync()
        now = time.perf_counter()
        dt = now - self.t0
        if self.iter >= self.warmup:
            self.times.append(dt); self.cpu.append(time.process_time() - self.c0)
        if self.iter == self.warmup - 1:
            if torch.device(self.dls.device).type == 'cuda': torch.cuda.reset_peak_memory_stats()
            if self.say is not None:
                n = self.n_iter - self.warmup
                left = f'; {self.deadline - now:.0f} s of budget left' if self.deadline is not None else ''
                self.say(f'warm-up: {self.warmup} step(s) in {now - self.t_fit:.1f} s (last {dt:.2f} s); '
                         f'estimate for {n} timed steps: {n * dt:.0f} s{left}')
        if self.deadline is not None and self.iter < self.n_iter - 1:
            step = sum(self.times) / len(self.times) if self.times else dt
            if now + step > self.deadline:   # the next step would end past the budget: stop with what was timed
                self.cut = True
                raise CancelFitException()


def bench(config, overrides, bs, size, steps, device='cpu', warmup=1, deadline=None, say=None):
    """Images/s of the timed training steps (`steps` after `warmup`, fewer if `deadline` cuts them), the step times and
    the learner."""
    cfg = load_config(config, [f'data.image_size={size}', f'train.batch_size={bs}', 'model.pretrained=false',
                               'train.validation_interval=1.0', 'train.max_minutes=0', *overrides])
    learn = build_learner(cfg, dls=fixed_dls(bs, size, warmup + steps, device))
    timer = StepTimer(warmup, deadline, say)
    learn.add_cb(timer)
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit(1)
    t = sum(timer.times)
    learn.cpu_seconds, learn.cut_by_budget = sum(timer.cpu), timer.cut
    return (bs * len(timer.times) / t if t else float('nan')), timer.times, learn


CASES = {'b0': ('tf_efficientnetv2_b0', 128, 32), 's': ('tf_efficientnetv2_s', 256, 16)}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--steps', type=int, default=4)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--only', choices=list(CASES), default=None)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(f'CPU training, fp32, torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'{a.steps} timed steps after 1 warm-up')
    print(f'{"model":<22}{"px":>5}{"batch":>7}{"img/s":>9}{"s/step":>9}{"img/CPU-s":>11}')
    for key, (model, size, bs) in CASES.items():
        if a.only and key != a.only: continue
        ips, times, learn = bench('cpu_small', [f'model.model_name={model}', 'train.precision=fp32',
                                                'train.gradient_checkpointing=false'],
                              bs, size, a.steps)
        print(f'{model:<22}{size:>5}{bs:>7}{ips:>9.1f}{sum(times) / len(times):>9.2f}'
              f'{bs * len(times) / learn.cpu_seconds:>11.1f}', flush=True)

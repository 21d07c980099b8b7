"""The winning solution's m run on a GPU: training img/s and peak memory of `dirtymnist.learner.build_learner`.

Usage: python bench/gpu.py [--precision bf16,fp16] [--steps 10] [--warmup 2] [--bs 512] [--size 384] [--budget 420] [--deterministic]
       python bench/gpu.py --cpu-smoke   # the same code on the CPU with a toy model, 32 px, batch 4, 2 steps

What runs: config `tf_efficientnetv2_m_in21k` with `model.pretrained=false` (untrained weights: the GPU machine has no
network), 384 px, batch 512, gradient checkpointing on (`--no-checkpointing` turns it off), the config's optimizer
(fusedadam, or plain Adam with a warning without apex), one run per precision: bf16 (no scaler) and fp16 (with a
gradient scaler); `--precision` picks them.

cuDNN: set as `dirtymnist_train` sets it, by `dirtymnist.learner.cudnn_flags(train.deterministic)`: autotuning on (the
config default), or with `--deterministic` (`train.deterministic=true`) deterministic kernels and no autotuning.

Data: synthetic. One fixed batch (uniform noise in [-1, 1], random 0/1 labels for the 26 letters) is made once and kept
on the GPU, so the figure is the training step alone (forward, loss, backward, optimizer step, the training callbacks),
not the data pipeline (`bench/data.py` measures that).

Timing: `--warmup` steps (cuDNN autotuning, the allocator), after which it prints how long the warm-up took and its
estimate for the timed steps, then `--steps` timed steps (CUDA synchronised around each). img/s = batch * timed steps /
their wall time; peak memory is `torch.cuda.max_memory_allocated` over the timed steps.

Time limit: the whole script must end within 8 minutes on an H100. `--budget` (seconds, default 420: 8 minutes less
room for start-up) is shared among the precisions still to run; a run stops before a timed step that would end past
its share and says so, and a precision with under 30 s left is skipped. At the defaults (2 + 10 steps per precision,
about 1-2 s per step expected at batch 512) both runs take about a minute each.

A precision that fails (out of memory, or any other error) leaves no autocast behind: fastai enters it before the
forward and leaves it after the loss, so an error in between would leave it on for the next run; `autocast_off` ends
it. An out-of-memory error is reported in the table and the next precision runs; any other error ends the script.

Without CUDA it says so and exits with status 2 (use `--cpu-smoke` to check the script on a machine without a GPU).
"""
import argparse, gc, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--precision', default='bf16,fp16', help='comma-separated: bf16, fp16, fp32')
    p.add_argument('--steps', type=int, default=10, help='timed steps per precision')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    p.add_argument('--bs', type=int, default=512)
    p.add_argument('--size', type=int, default=384)
    p.add_argument('--config', default='tf_efficientnetv2_m_in21k')
    p.add_argument('--no-checkpointing', action='store_true')
    p.add_argument('--deterministic', action='store_true', help='train.deterministic=true: deterministic cuDNN, no autotuning')
    p.add_argument('--budget', type=float, default=420.0, help='seconds for all runs together (the script must end within 8 minutes)')
    p.add_argument('--cpu-smoke', '--smoke', dest='smoke', action='store_true',
                   help='the same code path on the CPU: test_efficientnet, 32 px, batch 4, 1 warm-up + 2 steps, bf16 and fp32')
    return p.parse_args(argv)


def autocast_off():
    "End every autocast left entered (an exception between fastai's `before_batch` and `after_loss` skips its exit): nesting back to 0, cache cleared, CPU and CUDA autocast off with their default dtypes."
    for _ in range(torch.autocast_increment_nesting()): torch.autocast_decrement_nesting()
    torch.clear_autocast_cache()
    for dev, dtype in (('cpu', torch.bfloat16), ('cuda', torch.float16)):
        torch.set_autocast_enabled(dev, False); torch.set_autocast_dtype(dev, dtype)


def main(argv=None):
    a = parse(argv)
    if a.smoke:
        device, model, a.bs, a.size, a.steps, a.warmup, precisions = 'cpu', ['model.model_name=test_efficientnet'], 4, 32, 2, 1, ['bf16', 'fp32']
    else:
        if not torch.cuda.is_available():
            print('bench/gpu.py needs a CUDA GPU and none is visible (torch.cuda.is_available() is False); '
                  'run it on a GPU machine, or `python bench/gpu.py --cpu-smoke` to check the script on the CPU.')
            sys.exit(2)
        device, model, precisions = 'cuda', [], [s.strip() for s in a.precision.split(',') if s.strip()]
    from train import bench   # bench/train.py
    from dirtymnist.config import load_config
    from dirtymnist.learner import cudnn_flags
    common = model + [f'train.deterministic={"true" if a.deterministic else "false"}']
    det, autotune = cudnn_flags(load_config(a.config, common).train.deterministic)   # as dirtymnist_train sets them
    t_start = time.perf_counter()
    if device == 'cuda':
        print(f'{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}')
    else:
        print(f'CPU smoke run (torch {torch.__version__}): checks the script, the figures mean nothing')
    print(f'{a.config}{" (model " + model[0].split("=")[1] + ")" if model else ""}: pretrained=false, {a.size} px, batch {a.bs}, '
          f'gradient checkpointing {not a.no_checkpointing}, cuDNN deterministic {det} / autotuning {autotune}, {a.warmup} warm-up + {a.steps} timed steps per precision, budget {a.budget:.0f} s')
    print(f'data: synthetic, one fixed batch of uniform noise with random labels, kept on the {device.upper()} (the training step alone)')
    rows = []
    for i, prec in enumerate(precisions):
        left = a.budget - (time.perf_counter() - t_start)
        if left < 30:
            rows.append(f'{prec:<10} skipped: {left:.0f} s of the time budget left'); print(rows[-1]); continue
        share = left / (len(precisions) - i)
        gc.collect()
        if device == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        ov = common + [f'train.precision={prec}', f'train.gradient_checkpointing={"false" if a.no_checkpointing else "true"}',
                      f'train.max_minutes={share / 60:.4f}']   # the learner's own time budget, a safety net
        say = lambda s, prec=prec: print(f'{prec}: {s}', flush=True)
        try:
            ips, times, learn = bench(a.config, ov, a.bs, a.size, a.steps, device=device, warmup=a.warmup,
                                      deadline=time.perf_counter() + share - 5, say=say)
        except BaseException as e:
            autocast_off()
            if not isinstance(e, torch.cuda.OutOfMemoryError): raise
            rows.append(f'{prec:<10} out of memory: {str(e).splitlines()[0]}'); print(rows[-1]); continue
        peak = f'{torch.cuda.max_memory_allocated() / 2**30:.2f}' if device == 'cuda' else 'n/a'
        cut = getattr(learn, 'cut_by_budget', False) or getattr(learn, 'stopped_early', False)
        note = f' (stopped after {len(times)} of {a.steps} steps: time budget)' if cut else ''
        rows.append(f'{prec:<10}{ips:>9.1f}{sum(times) / max(len(times), 1):>9.3f}{peak:>10}{len(times):>7}{note}')
        print(f'{prec}: {rows[-1].split(None, 1)[1]}', flush=True)
        del learn
    print(f'\n{"precision":<10}{"img/s":>9}{"s/step":>9}{"peak GiB":>10}{"steps":>7}')
    for r in rows: print(r)
    print(f'total {time.perf_counter() - t_start:.0f} s (peak GiB: torch.cuda.max_memory_allocated over the timed steps)')
    return rows


if __name__ == '__main__': main()

"""Two gloo processes on the CPU give the loss and the gradients of one process on the global batch."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fmicl_core.distributed import gather
from fmicl_core.losses import fmicl_loss, infonce_loss

WORLD, N_LOCAL, DIM_IN, DIM = 2, 3, 5, 4


def global_inputs():
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(WORLD * N_LOCAL, DIM_IN, generator=g, dtype=torch.float64)
    x2 = torch.randn(WORLD * N_LOCAL, DIM_IN, generator=g, dtype=torch.float64)
    w = torch.randn(DIM_IN, DIM, generator=g, dtype=torch.float64)
    return x1, x2, w


CASES = {
    "fmicl_two_view": lambda a, b, gather: fmicl_loss(a, b, "js", alpha=3.0, gather_all=gather),
    "fmicl_cross": lambda a, b, gather: fmicl_loss(a, b, "vlc", negatives="cross", gather_all=gather),
    "fmicl_one_view": lambda a, b, gather: fmicl_loss(a, b, "kl", negatives="one_view", gather_all=gather),
    "infonce": lambda a, b, gather: infonce_loss(a, b, 0.3, gather_all=gather),
}


def loss_and_grad(x1, x2, w, case, gather):
    w = w.clone().requires_grad_(True)
    loss = CASES[case](x1 @ w, x2 @ w, gather)
    loss.backward()
    return loss.detach(), w.grad


def worker(rank, port, results):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    x1, x2, w = global_inputs()
    rows = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
    for case in CASES:
        loss, grad = loss_and_grad(x1[rows], x2[rows], w, case, gather=True)
        dist.all_reduce(loss)  # what DDP reports: the mean of the per-rank losses
        dist.all_reduce(grad)  # what DDP does to parameter gradients: the mean over ranks
        if rank == 0:
            results[case] = (loss / WORLD, grad / WORLD)
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def distributed_results():
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(worker, args=(free_port(), results), nprocs=WORLD, join=True)
        return dict(results)


@pytest.mark.parametrize("case", list(CASES))
def test_two_ranks_equal_one_process_on_the_global_batch(distributed_results, case):
    x1, x2, w = global_inputs()
    loss, grad = loss_and_grad(x1, x2, w, case, gather=False)
    d_loss, d_grad = distributed_results[case]
    assert torch.allclose(d_loss, loss, rtol=1e-12)
    assert torch.allclose(d_grad, grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad,needle", [([1.0, 2.0], "gather got a list"),
                                        (torch.tensor(1.0), "gather got a 0-d tensor")])
def test_gather_takes_tensors_of_rows(bad, needle):
    with pytest.raises(ValueError, match=needle):
        gather(bad)

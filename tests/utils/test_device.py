"""copy_to_device: pinned, asynchronous copies to CUDA; a plain move elsewhere."""

import torch

from msclr_mm.utils import copy_to_device


def test_cpu_copy_keeps_the_values():
    t = torch.arange(5)
    out = copy_to_device(t, 'cpu')
    assert torch.equal(out, t) and out.device.type == 'cpu'


def test_cuda_copy_pins_first_and_does_not_block(monkeypatch):
    calls = []

    class Fake:
        def pin_memory(self):
            calls.append('pin')
            return self

        def to(self, device, non_blocking=False):
            calls.append(('to', str(device), non_blocking))
            return self

    copy_to_device(Fake(), 'cuda')
    assert calls == ['pin', ('to', 'cuda', True)]
    calls.clear()
    copy_to_device(Fake(), torch.device('cpu'))
    assert calls == [('to', 'cpu', True)]

import torch

from classifiers.calibrate import fit_platt, fold_into_linear


def test_platt_recovers_scale_and_shift():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 2, generator=generator) * 2
    true_scale, true_shift = torch.tensor([2.0, 0.5]), torch.tensor([1.0, -0.5])
    labels = (torch.rand(4000, 2, generator=generator) < torch.sigmoid(logits * true_scale + true_shift)).float()
    scale, shift = fit_platt(logits, labels, ridge=0.0)
    assert torch.allclose(scale, true_scale, atol=0.2) and torch.allclose(shift, true_shift, atol=0.2)


def test_separable_data_stays_finite_and_one_class_is_untouched():
    logits = torch.cat([torch.linspace(-3, -1, 50), torch.linspace(1, 3, 50)])[:, None].repeat(1, 2)
    labels = torch.stack([(logits[:, 0] > 0).float(), torch.zeros(100)], dim=1)
    scale, shift = fit_platt(logits, labels)
    assert 1.0 < scale[0] < 50 and abs(shift[0]) < 5
    assert scale[1] == 1.0 and shift[1] == 0.0


def test_fold_into_linear():
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(5, 3)
    before = layer(x).detach()
    fold_into_linear(layer, torch.tensor([2.0, 0.5]), torch.tensor([1.0, -1.0]))
    assert torch.allclose(layer(x), before * torch.tensor([2.0, 0.5]) + torch.tensor([1.0, -1.0]), atol=1e-6)

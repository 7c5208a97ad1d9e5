import torch

from motifscope.architectures import DemoCNN
from motifscope.predict import predict


def test_batches_equal_one_forward(random_onehot):
    torch.manual_seed(0)
    model = DemoCNN(n_targets=3, input_length=64, n_filters=4).eval()
    X = random_onehot(n=37, length=64)
    expected = model(torch.from_numpy(X).float())
    for batch_size in (1, 8, 64):
        torch.testing.assert_close(predict(model, X, batch_size=batch_size, device="cpu"),
                                   expected)
    assert not model.training or True


def test_tuple_outputs_args_and_state_restored():
    class Net(torch.nn.Module):
        def forward(self, X, bias):
            return X.sum(dim=(1, 2)), X.mean(dim=2) + bias

    net = Net().train()
    X = torch.rand(10, 4, 8)
    bias = torch.arange(10.0)[:, None].expand(10, 4)
    a, b = predict(net, X, args=(bias,), batch_size=3, device="cpu")
    torch.testing.assert_close(a, X.sum(dim=(1, 2)))
    torch.testing.assert_close(b, X.mean(dim=2) + bias)
    assert net.training  # mode restored

"""Music2Latent adapter: real loading code on a tiny random checkpoint, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sideman.models.base import StepRequest
from sideman.models.codecs import CodecError, build_codec
from sideman.models.codecs.music2latent import (
    EDGE_PAD,
    HOP_LENGTH,
    Music2LatentCodec,
    build_unet,
    default_weights_path,
    save_package_checkpoint,
)
from sideman.models.config import ModelConfig, tiny_unet
from sideman.models.pipeline import StreamingPipeline

#: A few thousand parameters instead of the real model's millions; units unchanged.
TINY = dict(base_channels=8, layers_list=[1, 1, 1, 1, 1], multipliers_list=[1, 1, 1, 1, 1],
            attention_list=[0, 0, 0, 0, 1], layers_list_encoder=[1, 1, 1, 1, 1],
            attention_list_encoder=[0, 0, 0, 0, 1], bottleneck_base_channels=16,
            num_bottleneck_layers=1, heads=2, cond_channels=16)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    unet = build_unet(TINY)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # random everywhere (the package zero-inits some layers)
        for p in unet.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    path = tmp_path_factory.mktemp("m2l") / "tiny.pt"
    save_package_checkpoint(unet, path)
    return path


def test_checkpoint_is_in_the_package_format(tiny_checkpoint: Path) -> None:
    data = torch.load(tiny_checkpoint, weights_only=True)
    assert set(data) == {"gen_state_dict"}
    # The package's own loader reads it into the package's own (patched-size) model.
    assert any(k.startswith("encoder.") for k in data["gen_state_dict"])


def test_build_unet_restores_package_hparams() -> None:
    from music2latent import models as m2l_models

    before = (m2l_models.base_channels, list(m2l_models.layers_list))
    build_unet(TINY)
    assert (m2l_models.base_channels, list(m2l_models.layers_list)) == before


def test_missing_weights_error_names_path_and_remedy(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "music2latent.pt"
    with pytest.raises(CodecError) as info:
        Music2LatentCodec(weights=missing, hparams=TINY)
    message = str(info.value)
    assert str(missing) in message
    assert "download_model" in message and str(default_weights_path()) in message


def test_default_location_is_the_packages() -> None:
    import music2latent

    assert default_weights_path() == Path(music2latent.__file__).parent / "models" / \
        "music2latent.pt"


def test_round_trip_shapes_and_units(tiny_checkpoint: Path, monkeypatch) -> None:
    import socket

    import music2latent.utils

    def no_network(*args, **kwargs):
        raise AssertionError("the adapter tried to reach the network")

    monkeypatch.setattr(music2latent.utils, "download_model", no_network)
    monkeypatch.setattr(music2latent.utils, "hf_hub_download", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    codec = build_codec("music2latent", {"hparams": TINY}, weights=str(tiny_checkpoint))
    assert (codec.sample_rate, codec.hop_length, codec.latent_channels) == (44100, 4096, 64)
    frames = 8
    audio = torch.randn(2, frames * HOP_LENGTH) * 0.1
    latent = codec.encode(audio)
    assert latent.shape == (2, 64, frames) and torch.isfinite(latent).all()
    out = codec.decode(latent, skip_frames=2, seeds=[3, 4])
    assert out.shape == (2, (frames - 2) * HOP_LENGTH) and torch.isfinite(out).all()
    # Seeded per item: the same item decodes identically alone or in a batch.
    assert torch.equal(codec.decode(latent[1:], skip_frames=2, seeds=[4]), out[1:])
    assert codec.silence_latent().shape == (64,)
    assert codec.latent_params() == {"hparams": TINY}


def test_padding_aligns_frames_with_their_hop_spans() -> None:
    # The package's STFT representation, padded as the adapter pads, inverts to the input
    # without a shift: latent frame j stands for samples [4096 j, 4096 (j+1)).
    from music2latent.audio import to_representation_encoder, to_waveform

    frames = 6
    x = torch.randn(1, frames * HOP_LENGTH, generator=torch.Generator().manual_seed(1)) * 0.1
    rep = to_representation_encoder(torch.nn.functional.pad(x, (EDGE_PAD, EDGE_PAD)))
    assert rep.shape[-1] == frames * 8  # 8 STFT frames per latent frame
    y = to_waveform(rep)[:, EDGE_PAD:EDGE_PAD + frames * HOP_LENGTH]
    interior = slice(2048, -2048)
    assert float((y - x)[:, interior].abs().max()) < 0.01
    assert float(((y - x)[:, interior] ** 2).mean() / (x[:, interior] ** 2).mean()) < 1e-3


def test_mismatched_checkpoint_is_refused(tiny_checkpoint: Path) -> None:
    other = dict(TINY, base_channels=16)
    with pytest.raises(CodecError, match="does not fit the music2latent model"):
        Music2LatentCodec(weights=tiny_checkpoint, hparams=other)


def test_unit_changing_hparams_are_refused() -> None:
    with pytest.raises(CodecError, match="cannot be overridden"):
        build_unet({"hop": 256})
    with pytest.raises(CodecError, match="needs 5 entries"):
        build_unet({"layers_list": [1, 1]})


def test_pickled_extras_need_consent(tmp_path: Path, tiny_checkpoint: Path) -> None:
    path = tmp_path / "extras.pt"
    state = torch.load(tiny_checkpoint, weights_only=True)
    torch.save({**state, "trainer": _Opaque()}, path)
    with pytest.raises(CodecError, match="allow_pickle=True"):
        Music2LatentCodec(weights=path, hparams=TINY)
    codec = Music2LatentCodec(weights=path, hparams=TINY, allow_pickle=True)
    assert codec.latent_channels == 64


class _Opaque:
    """A non-tensor object, as a training checkpoint might hold."""


def test_pipeline_runs_on_music2latent(tiny_checkpoint: Path) -> None:
    codec = Music2LatentCodec(weights=tiny_checkpoint, hparams=TINY, decode_context_frames=1)
    config = ModelConfig.for_codec(codec, name="m2l-tiny", window_frames=8,
                                   trained_hop_frames=(2,), trained_lookaheads=(1,),
                                   unet=tiny_unet(), kind="consistency",
                                   sampler="consistency", default_steps=1, max_steps=2)
    pipe = StreamingPipeline.random(config, codec)
    g = pipe.info.geometry(hop_frames=2, lookahead=1)
    request = StepRequest(stream=pipe.new_stream(), step=3, geometry=g,
                          mixture=np.zeros(g.window_samples, dtype=np.float32),
                          stems=("drums",), num_steps=1, xfade=1000)
    (result,) = pipe.generate([request])
    assert result.start == g.region(3)[0] - 1000
    assert result.audio["drums"].shape == (1000 + 2 * HOP_LENGTH,)


def test_commands_take_the_codec_weights(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from sideman.cli.live import CommandError, _load_generator
    from sideman.cli.main import build_parser

    codec = Music2LatentCodec(weights=tiny_checkpoint, hparams=TINY, decode_context_frames=1)
    config = ModelConfig.for_codec(codec, name="m2l-tiny", window_frames=8,
                                   trained_hop_frames=(2,), trained_lookaheads=(1,),
                                   unet=tiny_unet(), kind="consistency",
                                   sampler="consistency", default_steps=1, max_steps=2)
    StreamingPipeline.random(config, codec).save_pretrained(tmp_path / "m2l-model")
    parser = build_parser()
    for command in ("serve", "demo"):
        args = parser.parse_args([command, "--model", str(tmp_path / "m2l-model"),
                                  "--codec-weights", str(tiny_checkpoint)])
        pipe = _load_generator(args)
        assert isinstance(pipe, StreamingPipeline) and pipe.codec.weights == tiny_checkpoint
        assert pipe.device == torch.device("cpu")
    missing = tmp_path / "elsewhere.pt"
    args = parser.parse_args(["serve", "--model", str(tmp_path / "m2l-model"),
                              "--codec-weights", str(missing)])
    # the CLI turns the codec's error into its one-line error (sideman serve: error: ...)
    with pytest.raises(CommandError, match=f"not found at {missing}.*--codec-weights"):
        _load_generator(args)
    # The embedded default's mel codec has no weights: a clear refusal, not a TypeError.
    args = parser.parse_args(["serve", "--codec-weights", str(tiny_checkpoint)])
    assert args.model == "default" and args.device == "cpu"
    with pytest.raises(CommandError, match="mel codec has no weights"):
        _load_generator(args)

"""Codecs: exact units and shapes, future independence of known frames, beats kept intact."""

from __future__ import annotations

import librosa
import mir_eval
import numpy as np
import pytest
import torch

from sideman.models.codecs import CodecError, build_codec
from sideman.models.codecs.measure import measure_codec, synthetic_song
from sideman.models.codecs.mel import MelCodec
from sideman.models.testing import tiny_mel_codec

pytestmark = pytest.mark.usefixtures("one_thread")


def test_default_mel_units() -> None:
    codec = MelCodec()
    assert (codec.sample_rate, codec.hop_length, codec.latent_channels) == (22050, 512, 64)
    assert codec.context_frames == (2, 2)  # pad 768 = 1.5 frames -> 2 frames each side
    audio = torch.randn(3, 256 * 512) * 0.1
    latent = codec.encode(audio)
    assert latent.shape == (3, 64, 256) and latent.dtype == torch.float32
    out = codec.decode(latent[:, :, :40], skip_frames=8, seeds=[0, 1, 2])
    assert out.shape == (3, 32 * 512) and out.dtype == torch.float32


def test_encode_frame_j_is_its_own_hop_span() -> None:
    # An impulse at sample s lands in frame s // hop (the frame whose span holds it peaks).
    codec = tiny_mel_codec()
    hop = codec.hop_length
    # (the frame centres are mid-span, so positions near a span's edge are near a tie)
    for s in (5 * hop + hop // 4, 5 * hop + hop // 2, 9 * hop + 3 * hop // 4 - 1):
        audio = torch.zeros(1, 16 * hop)
        audio[0, s] = 1.0
        energy = codec.encode(audio)[0].mean(dim=0)
        assert int(energy.argmax()) == s // hop


def test_known_frames_do_not_see_outside_audio() -> None:
    # context_frames is exact: frames away from the ends depend only on audio inside the span,
    # so an encoding of a window equals the same frames of a whole-song encoding.
    codec = tiny_mel_codec()
    hop, (left, right) = codec.hop_length, codec.context_frames
    gen = torch.Generator().manual_seed(0)
    song = torch.randn(1, 64 * hop, generator=gen)
    whole = codec.encode(song)
    window = codec.encode(song[:, 16 * hop:48 * hop])
    torch.testing.assert_close(window[..., left:32 - right], whole[..., 16 + left:48 - right],
                               rtol=1e-4, atol=1e-4)
    assert not torch.allclose(window[..., :left], whole[..., 16:16 + left], atol=1e-3)
    # Changing audio after the span's end cannot change frames before the right context.
    cut = 40 * hop
    other = song.clone()
    other[:, cut:] = torch.randn(1, 64 * hop - cut, generator=gen)
    a, b = codec.encode(song), codec.encode(other)
    assert torch.equal(a[..., :40 - right], b[..., :40 - right])
    assert not torch.equal(a[..., 40 - right:40], b[..., 40 - right:40])


def test_round_trip_keeps_click_onsets_within_a_frame() -> None:
    codec = MelCodec()
    sr, hop = codec.sample_rate, codec.hop_length
    n = 256 * hop
    clicks = np.arange(int(0.3 * sr), n - sr // 4, int(0.37 * sr))
    audio = np.zeros(n, dtype=np.float32)
    t = np.arange(600) / sr
    burst = (np.sin(2 * np.pi * 1500 * t) * np.exp(-t * 200)).astype(np.float32)
    for c in clicks:
        audio[c:c + 600] += burst
    recon = codec.decode(codec.encode(torch.from_numpy(audio)[None]), seeds=[0])[0].numpy()
    assert recon.shape == audio.shape
    onsets = librosa.onset.onset_detect(y=recon, sr=sr, units="time", backtrack=False)
    truth = clicks / sr
    # Every click is found within one frame (23 ms); Griffin-Lim's pre-echo may add a stray
    # onset now and then, so precision only has to stay high.
    _, precision, recall = mir_eval.onset.f_measure(truth, onsets, window=hop / sr)
    assert recall == 1.0 and precision >= 0.85, (truth, onsets)
    # Level is kept: the reconstruction's energy is within 3 dB of the original's.
    ratio = 10 * np.log10((recon**2).sum() / (audio**2).sum())
    assert abs(ratio) < 3.0


def test_decode_skip_frames_matches_full_decode_in_the_middle() -> None:
    codec = tiny_mel_codec(gl_iters=0)  # no phase iterations: decoding is a linear map
    latent = codec.encode(torch.randn(1, 20 * codec.hop_length) * 0.1)
    full = codec.decode(latent)
    part = codec.decode(latent, skip_frames=6)
    assert part.shape == (1, 14 * codec.hop_length)
    torch.testing.assert_close(part, full[:, 6 * codec.hop_length:])


def test_decode_seeds_make_items_batch_independent() -> None:
    codec = tiny_mel_codec()
    latent = codec.encode(torch.randn(3, 12 * codec.hop_length) * 0.1)
    batch = codec.decode(latent, seeds=[7, 8, 9])
    alone = codec.decode(latent[1:2], seeds=[8])
    torch.testing.assert_close(batch[1:2], alone, rtol=1e-5, atol=1e-6)
    assert torch.equal(codec.decode(latent, seeds=[7, 8, 9]), batch)


def test_silence_latent_is_the_floor() -> None:
    codec = tiny_mel_codec()
    expected = (codec.db_floor - codec.db_offset) / codec.db_scale
    torch.testing.assert_close(codec.silence_latent(),
                               torch.full((codec.latent_channels,), expected))


@pytest.mark.parametrize(("audio_shape", "message"), [
    ((4,), r"audio \(B, N\)"), ((1, 1000), "multiple of hop_length=128"),
])
def test_encode_refuses_bad_audio(audio_shape, message) -> None:
    with pytest.raises(CodecError, match=message):
        tiny_mel_codec().encode(torch.zeros(audio_shape))


def test_decode_refuses_bad_latent() -> None:
    codec = tiny_mel_codec()
    with pytest.raises(CodecError, match=r"latent \(B, 16, F\)"):
        codec.decode(torch.zeros(1, 8, 4))
    with pytest.raises(CodecError, match="skip_frames"):
        codec.decode(torch.zeros(1, 16, 4), skip_frames=4)
    with pytest.raises(CodecError, match="one seed per item"):
        codec.decode(torch.zeros(2, 16, 4), seeds=[1])


def test_build_codec_errors() -> None:
    with pytest.raises(CodecError, match="unknown codec 'nope'"):
        build_codec("nope")
    with pytest.raises(CodecError, match="bad parameters for codec 'mel'"):
        build_codec("mel", {"colour": "red"})
    with pytest.raises(CodecError, match="n_fft"):
        build_codec("mel", {"n_fft": 301, "hop_length": 128})


def test_measure_codec_reports_beats_and_speed() -> None:
    audio, beats, _ = synthetic_song(8000, 4.0, 120.0)
    assert audio.dtype == np.float32 and len(audio) == 32000
    np.testing.assert_allclose(np.diff(beats), 0.5)
    report = measure_codec(tiny_mel_codec(), seconds=6.0, bpms=(120.0,), repeats=1)
    assert report["codec"] == "mel" and len(report["per_tempo"]) == 1
    assert 0.0 <= report["mean"]["beat_f1_recon_vs_orig"] <= 1.0
    assert report["speed"]["encode_x_realtime"] > 0


def test_the_default_codec_keeps_beats_and_onsets() -> None:
    # The embedded model's codec (22 050 Hz, 64 mels, 16 Griffin-Lim iterations): what the
    # tracker finds in the original it finds in the round trip (docs/MODELS.md: 1.0 on 20 s
    # songs; a 10-s song at 120 bpm measured 0.97 beats and 1.0 onsets).
    report = measure_codec(MelCodec(), seconds=10.0, bpms=(120.0,), repeats=1)
    mean = report["mean"]
    assert mean["beat_f1_recon_vs_orig"] >= 0.9, mean
    assert mean["onset_f1_recon_vs_orig"] >= 0.95, mean
    assert mean["beat_f1_recon_vs_truth"] >= 0.9, mean
    assert report["speed"]["encode_x_realtime"] > 1 and report["speed"]["decode_x_realtime"] > 1

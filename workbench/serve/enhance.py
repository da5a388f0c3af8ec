"""``POST /v1/enhance?dry=``: an audio file in, the enhanced audio out as a 16 kHz mono PCM16 WAV.

The answer is ``dry * x + (1 - dry) * denoise(x)`` of the upload ``x`` (decoded, mixed to mono,
resampled to 16 kHz), denoised as offline (normalised by the whole signal's std), so it is the
audio the recogniser hears for ``POST /v1/recognize`` at the same ``dry``. The same limits hold
as there: body size (413), duration (413), undecodable audio (400), token (401), busy (503).
"""
import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..audio import SAMPLE_RATE, chunks, load_audio, to_wav_bytes
from ..denoise import Denoiser, mix
from ..denoise.denoiser import FILE_BLOCK_S
from . import protocols
from .protocols import ClientError


def enhance_route(service) -> Route:
    """The route, wrapped by ``service.http`` (token, body read under its limits, stream slot,
    ``{"error"}`` answers, log line)."""

    async def enhance(request: Request, note: dict, body: bytes) -> Response:
        dry = protocols.dry(request.query_params, service.engine.dry)
        if not body:
            raise ClientError("the body is empty: send an audio file")
        audio = await service.engine.run(load_audio, body, "the uploaded file", service.limits.max_stream_s)
        service._check_duration(audio)
        note["audio_s"] = len(audio) / SAMPLE_RATE
        enhanced = await enhanced_audio(service.engine, audio, dry)
        return Response(await service.engine.run(to_wav_bytes, enhanced), media_type="audio/wav")

    return Route("/v1/enhance", service.http(enhance), methods=["POST"])


async def enhanced_audio(engine, audio, dry: float):
    """``dry * audio + (1 - dry) * denoise(audio)`` on the engine's threads; a causal denoiser runs
    one block (``FILE_BLOCK_S``) per step, so other clients' steps interleave with a long file."""
    denoiser = engine.denoiser
    if dry == 1.0:
        return mix(audio, audio, dry)
    if denoiser is None:
        raise ClientError("this server runs without a denoiser: only dry=1 (the audio as sent) is possible",
                          status=409)
    if denoiser.layers is None:  # bidirectional: it needs the whole signal at once
        return await engine.run(denoiser.enhance, audio, dry)
    blocks = denoiser.enhance_blocks(chunks(audio, FILE_BLOCK_S), dry, Denoiser.offline_scale(audio))
    pieces = []
    while (piece := await engine.run(next, blocks, None)) is not None:
        pieces.append(piece)
    return np.concatenate(pieces)

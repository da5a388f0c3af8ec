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
from .middleware import note
from .protocols import ClientError


def enhance_route(service) -> Route:
    """The route of ``service`` (its middleware reads the body under the limits and takes a stream slot)."""

    async def enhance(request: Request) -> Response:
        """Enhance an audio file.
        ---
        summary: denoise and dry-mix an audio file
        description: The body is an audio file; the answer is dry * x + (1 - dry) * denoise(x) as a
          16 kHz mono PCM16 WAV, the audio the recogniser hears for /v1/recognize at the same dry.
        parameters:
          - {name: dry, in: query, description: share of the raw signal (default the server's), schema: {type: number, minimum: 0, maximum: 1}}
        requestBody:
          required: true
          content:
            application/octet-stream: {schema: {type: string, format: binary}}
        responses:
          200: {description: 'audio/wav'}
          400: {description: '{"error"}: undecodable audio, bad dry'}
          401: {description: '{"error"}: missing or wrong token'}
          409: {description: '{"error"}: dry below 1 on a server without a denoiser'}
          413: {description: '{"error"}: body or audio over the limits'}
          503: {description: '{"error"}: server busy'}
        """
        dry = protocols.dry(request.query_params, service.engine.dry)
        body = await request.body()
        if not body:
            raise ClientError("the body is empty: send an audio file")
        audio = await service.engine.run(load_audio, body, "the uploaded file", service.limits.max_stream_s)
        service._check_duration(audio)
        service.heard(note(request), len(audio) / SAMPLE_RATE)
        enhanced = await enhanced_audio(service.engine, audio, dry)
        return Response(await service.engine.run(to_wav_bytes, enhanced), media_type="audio/wav")

    return Route("/v1/enhance", enhance, methods=["POST"])


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

"""The Pipecat side of `benches/compare.sh`: a Twilio Media Streams bot on Pipecat's FastAPI
WebSocket transport, built the way Pipecat's own telephony examples build one, with its
OpenAI services pointed at the same fake OpenAI-compatible server Vox uses in the run.

Endpointing is set to match Vox's in the same run: Silero VAD (Pipecat's bundled model) with
the same speech threshold (`--vad-confidence`, Vox `vad.threshold`) and the same start and
stop times (`--vad-start-ms`/`--vad-stop-ms`, Vox `vad.start_ms`/`stop_ms`), then the same silence wait
(`--speech-timeout-ms`, Vox `conversation.min_endpointing_ms`) before the turn ends; speech
recognition runs once per VAD segment (Pipecat's SegmentedSTTService, as Vox's segmented ASR).
Auto hang-up is off (the simulator hangs up). The greeting is spoken by TTS at connect, as
Vox speaks an agent's firstMessage.

Run: python bot.py --port 8765 --openai-base http://127.0.0.1:PORT/v1
"""

import argparse
import asyncio
import os
import sys

import uvicorn
from fastapi import FastAPI, WebSocket
from loguru import logger

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineParams, PipelineTask
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

ARGS = None
app = FastAPI()


async def run_bot(websocket: WebSocket):
    _, call = await parse_telephony_websocket(websocket)
    serializer = TwilioFrameSerializer(
        stream_sid=call["stream_id"],
        call_sid=call["call_id"],
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    base, key = ARGS.openai_base, "sk-bench"
    stt = OpenAISTTService(api_key=key, base_url=base, model="fake-asr")
    llm = OpenAILLMService(api_key=key, base_url=base, model="fake-llm")
    tts = OpenAITTSService(api_key=key, base_url=base, model="fake-tts", voice="alloy", sample_rate=24000)
    context = LLMContext([{"role": "system", "content": ARGS.prompt}])
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(
                params=VADParams(
                    confidence=ARGS.vad_confidence,
                    start_secs=ARGS.vad_start_ms / 1000.0,
                    stop_secs=ARGS.vad_stop_ms / 1000.0,
                )
            ),
            user_turn_strategies=UserTurnStrategies(
                stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=ARGS.speech_timeout_ms / 1000.0)]
            ),
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            aggregators.user(),
            llm,
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    task = PipelineTask(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000, enable_metrics=False),
    )

    @transport.event_handler("on_client_connected")
    async def on_connected(_transport, _client):
        if ARGS.greeting:
            await task.queue_frames([TTSSpeakFrame(ARGS.greeting)])

    @transport.event_handler("on_client_disconnected")
    async def on_disconnected(_transport, _client):
        await task.cancel()

    await PipelineRunner(handle_sigint=False).run(task)


@app.websocket("/media/twilio")
async def media(websocket: WebSocket):
    await websocket.accept()
    try:
        await run_bot(websocket)
    except Exception as e:  # one call's failure must not stop the server
        logger.exception(f"call failed: {e}")


@app.get("/health")
async def health():
    return {"ok": True}


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--openai-base", required=True)
    p.add_argument("--vad-confidence", type=float, default=0.7)
    p.add_argument("--vad-start-ms", type=int, default=200)
    p.add_argument("--vad-stop-ms", type=int, default=200)
    p.add_argument("--speech-timeout-ms", type=int, default=300)
    p.add_argument("--greeting", default="")
    p.add_argument("--prompt", default="You are a helpful phone agent.")
    p.add_argument("--log-level", default="WARNING")
    ARGS = p.parse_args()
    logger.remove()
    logger.add(sys.stderr, level=ARGS.log_level)
    uvicorn.run(app, host="127.0.0.1", port=ARGS.port, log_level="warning", ws="websockets")


if __name__ == "__main__":
    main()

"""An independent WebRTC caller (aiortc, PyPI) for Vox's WHIP endpoint.

Posts an SDP offer to URL, waits for the agent's greeting, speaks QUESTION, hears the
answer, and SPEAKS BARGE over the answer 1.5 s into it; then hangs up with DELETE. Prints
one JSON report: the 20 ms levels it heard with their arrival times, and when it spoke.

    python3 aiortc_call.py URL QUESTION.wav BARGE.wav
"""

import array
import asyncio
import fractions
import json
import math
import sys
import time
import urllib.request
import wave

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

RATE = 48000
FRAME = 960  # 20 ms


def load(path):
    """A mono 16-bit WAV at 48 kHz (linear interpolation: the recordings are 8 kHz)."""
    with wave.open(path) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        pcm = array.array("h", w.readframes(w.getnframes()))
        rate = w.getframerate()
    k = RATE // rate
    out = array.array("h")
    for i in range(len(pcm)):
        a, b = pcm[i], pcm[min(i + 1, len(pcm) - 1)]
        out.extend(int(a + (b - a) * j / k) for j in range(k))
    return out


def rms(frame):
    """The level of a decoded frame (s16, any layout)."""
    a = array.array("h", bytes(frame.planes[0]))
    return math.sqrt(sum(x * x for x in a) / max(len(a), 1))


class Mic(MediaStreamTrack):
    """Silence, or the queued utterance, 20 ms at a time in real time."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.queue = array.array("h")
        self.pts = 0
        self.start = None
        self.spoke = []  # (start, end) times of each utterance

    def say(self, pcm):
        now = time.monotonic()
        self.spoke.append((now, now + len(pcm) / RATE))
        self.queue.extend(pcm)

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.pts / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self.queue[:FRAME]
        del self.queue[:FRAME]
        chunk.extend([0] * (FRAME - len(chunk)))
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(chunk.tobytes())
        frame.sample_rate = RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, RATE)
        self.pts += FRAME
        return frame


def http(method, url, body=None, content_type=None):
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=10) as res:
        return res.status, dict(res.headers), res.read().decode()


async def main(url, question_path, barge_path):
    question, barge = load(question_path), load(barge_path)
    pc = RTCPeerConnection()
    mic = Mic()
    pc.addTrack(mic)
    heard = []  # (time, rms) per received frame
    got_track = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        async def ear():
            while True:
                try:
                    f = await track.recv()
                except Exception:
                    return
                heard.append((time.monotonic(), rms(f)))

        got_track.set()
        asyncio.ensure_future(ear())

    pc.createDataChannel("vox-events")
    await pc.setLocalDescription(await pc.createOffer())  # gathers: a complete offer
    status, headers, answer = http(
        "POST", url, pc.localDescription.sdp.encode(), "application/sdp"
    )
    assert status == 201, status
    location = headers.get("Location") or headers.get("location")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    t0 = time.monotonic()

    def loud_since(t):
        return [h for h in heard if h[0] >= t and h[1] > 300]

    async def wait_quiet(after, quiet_s, limit_s):
        """Until nothing loud was heard for quiet_s (after `after`), or limit_s passed."""
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            await asyncio.sleep(0.1)
            last = loud_since(after)
            if last and time.monotonic() - last[-1][0] > quiet_s:
                return
        return

    await wait_quiet(t0, 0.8, 10)  # the greeting
    mic.say(question)
    asked_end = mic.spoke[-1][1]
    # the answer starts, then 1.5 s into it the caller talks over it
    end = time.monotonic() + 15
    while time.monotonic() < end and not loud_since(asked_end + 0.2):
        await asyncio.sleep(0.05)
    answer_start = loud_since(asked_end + 0.2)
    if answer_start:
        await asyncio.sleep(1.5)
        mic.say(barge)
    await asyncio.sleep(4)
    try:
        http("DELETE", url.split("/whip/")[0] + location)
    except Exception as e:  # noqa: BLE001
        print(f"DELETE failed: {e}", file=sys.stderr)
    await pc.close()
    print(json.dumps({"t0": t0, "heard": heard, "spoke": mic.spoke}))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

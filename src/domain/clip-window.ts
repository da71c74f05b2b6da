/**
 * Where the free clip is taken from.
 *
 * The clip is 10 seconds long, or the whole video when that is 10 seconds or shorter. It is centred on
 * 40% of the duration: the opening of a video often holds titles, a slate or black, and its end
 * credits, while 40% lies in the body of the programme. The window is then kept inside 5%..95% of the
 * duration (when it fits there; otherwise inside the video), and, when the frame rate is known, its
 * start is moved back to a frame boundary and its length made a whole number of frames, so the cut is
 * frame-exact and `frameCount` can be passed to ffmpeg. Pass a frame rate only for constant frame rate
 * video: with variable frame rate, frame numbers do not map to times.
 */

export const CLIP_DURATION_MS = 10_000;

export interface ClipWindow {
  startMs: number;
  endMs: number;
  /** Frames in the clip and its first frame's index; null without a frame rate or for a whole-video clip. */
  frameCount: number | null;
  startFrame: number | null;
  /** True when the clip is the whole video. */
  isWholeVideo: boolean;
}

/** Rounds to microseconds, so that frame times such as 4804.8 ms keep their precision. */
function toMicros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export function chooseClipWindow(durationMs: number, frameRate?: number): ClipWindow {
  if (!Number.isFinite(durationMs) || durationMs <= 0)
    throw new RangeError(`durationMs must be a positive number, not ${durationMs}`);
  if (durationMs <= CLIP_DURATION_MS)
    return { startMs: 0, endMs: durationMs, frameCount: null, startFrame: null, isWholeVideo: true };

  const centre = durationMs * 0.4;
  const [low, high] = durationMs * 0.9 >= CLIP_DURATION_MS ? [durationMs * 0.05, durationMs * 0.95] : [0, durationMs];
  const startMs = Math.min(Math.max(centre - CLIP_DURATION_MS / 2, low), high - CLIP_DURATION_MS);

  if (frameRate === undefined || !Number.isFinite(frameRate) || frameRate <= 0) {
    return {
      startMs: toMicros(startMs),
      endMs: toMicros(startMs + CLIP_DURATION_MS),
      frameCount: null,
      startFrame: null,
      isWholeVideo: false,
    };
  }
  const frameMs = 1000 / frameRate;
  // Whole frames, never more than the 10 s (29.97 fps gives 299 frames, 9.977 s).
  const frameCount = Math.max(1, Math.floor(CLIP_DURATION_MS / frameMs + 1e-9));
  // Backwards to a boundary keeps the end inside the window that was just chosen.
  const startFrame = Math.max(0, Math.floor(startMs / frameMs + 1e-9));
  const alignedStart = startFrame * frameMs;
  return {
    startMs: toMicros(alignedStart),
    endMs: toMicros(alignedStart + frameCount * frameMs),
    frameCount,
    startFrame,
    isWholeVideo: false,
  };
}

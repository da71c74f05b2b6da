/**
 * The full frames, one at a time: Previous/Next buttons and the arrow keys move, the picture links
 * to its full-size file. The thumbnails above it form a strip that picks a frame at the same position.
 */
import { useState, type KeyboardEvent } from 'react';
import type { Schemas } from '../api/client';
import { formatDuration } from '../format/format';
import styles from './video-sections.module.css';

type Artifact = Schemas['VideoArtifact'];

export function ThumbnailStrip({ items }: { items: Artifact[] }) {
  return (
    // Focusable so a keyboard can scroll the strip (it is wider than the page).
    <ul className={styles.strip} data-testid="thumbnails" tabIndex={0} aria-label="Thumbnails">
      {items.map((item) => (
        <li key={item.id}>
          <img
            src={item.presignedUrl}
            width={item.width}
            height={item.height}
            alt={`Thumbnail at ${formatDuration(item.timestampMillis)}`}
            loading="lazy"
          />
        </li>
      ))}
    </ul>
  );
}

export function FramesViewer({ frames }: { frames: Artifact[] }) {
  const [index, setIndex] = useState(0);
  const count = frames.length;
  const frame = frames[Math.min(index, count - 1)];
  if (frame === undefined) return <p>No full frames.</p>;
  const move = (step: number) => setIndex((current) => (current + step + count) % count);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === 'ArrowRight') move(1);
    else if (event.key === 'ArrowLeft') move(-1);
    else return;
    event.preventDefault();
  }

  return (
    <div
      className={styles.viewer}
      tabIndex={0}
      onKeyDown={onKeyDown}
      role="group"
      aria-roledescription="frame viewer"
      aria-label="Full frames: the arrow keys move between them"
      data-testid="frames-viewer"
    >
      <a href={frame.presignedUrl} target="_blank" rel="noreferrer" className={styles.frameLink}>
        <img
          src={frame.presignedUrl}
          width={frame.width}
          height={frame.height}
          alt={`Frame ${index + 1} of ${count} at ${formatDuration(frame.timestampMillis)}, opens full size`}
        />
      </a>
      <div className={styles.viewerBar}>
        <button type="button" onClick={() => move(-1)}>
          ← Previous
        </button>
        <span data-testid="frame-position" aria-live="polite">
          Frame {index + 1} of {count} · {formatDuration(frame.timestampMillis)} · {frame.width}×{frame.height}
        </span>
        <button type="button" onClick={() => move(1)}>
          Next →
        </button>
      </div>
    </div>
  );
}

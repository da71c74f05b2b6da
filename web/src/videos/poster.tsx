/** A video's poster (or first thumbnail) once its ingestion made one; a plain frame until then. */
import type { Video } from '../api/client';
import { useThumbnails } from '../api/queries';
import styles from './poster.module.css';

export function Poster({ video }: { video: Video }) {
  const available = video.ingestion.ingestionState.thumbnailsAvailable;
  const thumbnails = useThumbnails(video.id, available);
  const items = thumbnails.data?.items ?? [];
  const picture = items.find((item) => item.kind === 'POSTER') ?? items[0];
  if (picture === undefined) return <div className={styles.empty} aria-hidden="true" />;
  return <img className={styles.poster} src={picture.presignedUrl} alt="" loading="lazy" width={112} height={63} />;
}

/** Every metadata field the ingestion measured, in a readable table. */
import type { Schemas } from '../api/client';
import { formatBytes, formatDuration } from '../format/format';
import styles from './video-sections.module.css';

type Metadata = Schemas['VideoMetadata'];

const scanLabels = {
  PROGRESSIVE: 'progressive',
  INTERLACED_TOP_FIRST: 'interlaced, top field first',
  INTERLACED_BOTTOM_FIRST: 'interlaced, bottom field first',
} as const;

function orDash(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '—' : String(value);
}

function rows(metadata: Metadata): [string, string][] {
  const detected = metadata.scanning.heuristics;
  return [
    ['Container', `${metadata.containerName}${metadata.longContainerName ? ` (${metadata.longContainerName})` : ''}`],
    ['Codec', `${metadata.codecName}${metadata.longCodecName ? ` (${metadata.longCodecName})` : ''}`],
    [
      'Pixel format',
      `${orDash(metadata.pixelFormatName)}${metadata.primaryBitDepth ? `, ${metadata.primaryBitDepth}-bit` : ''}`,
    ],
    ['Frame size', `${metadata.frameWidth} × ${metadata.frameHeight}`],
    ['Display aspect', `${metadata.displayAspectRatio.tag} (${metadata.displayAspectRatio.ratio.toFixed(3)})`],
    [
      'Frame rate',
      metadata.averageFrameRate === null
        ? '—'
        : `${metadata.averageFrameRate.frameRate.toFixed(3)} fps (${metadata.averageFrameRate.rational})`,
    ],
    ['Scan type declared', scanLabels[metadata.scanning.metadata]],
    ['Scan type detected', detected === null ? 'not analysed' : scanLabels[detected]],
    ['Colour range', orDash(metadata.colorRangeName)],
    ['Colour space', orDash(metadata.colorSpaceName)],
    ['Colour transfer', orDash(metadata.colorTransferName)],
    ['Colour primaries', orDash(metadata.colorPrimariesName)],
    ['HDR', metadata.hdrStandardName ?? 'SDR'],
    ['Duration', formatDuration(metadata.durationInMillis)],
    ['Frames', orDash(metadata.totalFrames)],
    ['File size', `${formatBytes(metadata.size)} (${metadata.size.toLocaleString()} bytes)`],
    ['Video stream size', metadata.videoStreamSize === null ? '—' : formatBytes(metadata.videoStreamSize)],
  ];
}

export function MetadataTable({ metadata }: { metadata: Metadata }) {
  return (
    <table className={styles.metadata} data-testid="metadata">
      <tbody>
        {rows(metadata).map(([label, value]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The quality assessment: one bar per metric (0 to 5) with its label, and the overall score. */
import type { Schemas } from '../api/client';
import styles from './video-sections.module.css';

export function QualityBars({ quality }: { quality: Schemas['QualityAssessment'] }) {
  return (
    <div data-testid="quality">
      <p className={styles.overall}>
        Overall score <strong data-testid="overall-score">{quality.overallSubjectiveScore.toFixed(1)}</strong> / 5
      </p>
      <ul className={styles.metrics}>
        {quality.metrics.map((metric) => (
          <li key={metric.name}>
            <span className={styles.metricName}>{metric.name}</span>
            <meter
              min={0}
              max={5}
              low={2}
              high={3.5}
              optimum={5}
              value={metric.subjectiveScore}
              aria-label={`${metric.name} score`}
            />
            <span>
              {metric.subjectiveScore.toFixed(1)} · {metric.subjectiveLabel}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

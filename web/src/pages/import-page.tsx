/**
 * Imports a video from an HTTPS URL or an S3 object. The API checks every field; its
 * validationErrors are shown next to the fields they name, in its words. After a successful
 * import the list opens with the new video on top, and its bar moves as the stream reports.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { ApiError, call } from '../api/client';
import { queryKeys, useProjects } from '../api/queries';
import { ErrorDisplay } from '../components/error-display';
import { PageTitle } from '../components/page-title';
import { parseCrc32c } from '../format/format';
import { Field } from '../forms/field';
import { useApi } from '../session/session';
import { useSelectedTeamId, useTeamPath } from '../session/team';
import styles from './import-page.module.css';

type Source = 'https' | 's3';

interface CommonFields {
  name: string;
  projectId: string;
  fullIngestion: boolean;
}

const emptyHttps = { url: '', crc32c: '', connections: '' };
const emptyS3 = { bucket: '', objectKey: '', accessKey: '', secretAccessKey: '', endpoint: '', region: '' };

/** The API's field names that the form shows next to a field; any other goes to the general error. */
const shownFields = new Set([
  'name',
  'projectId',
  'url',
  'crc32c',
  'maxConcurrentConnections',
  'objectKey',
  's3Bucket',
  's3Bucket.bucket',
  's3Bucket.accessKey',
  's3Bucket.secretAccessKey',
  's3Bucket.endpoint',
  's3Bucket.region',
]);

function ProjectSelect(props: { value: string; onChange: (value: string) => void; error: string | null }) {
  const projects = useProjects(useSelectedTeamId());
  return (
    <Field label="Project" error={props.error} hint="Empty: the team's default project.">
      <select value={props.value} onChange={(event) => props.onChange(event.target.value)}>
        <option value="">Default project</option>
        {(projects.data?.items ?? []).map((project) => (
          <option key={project.id} value={project.id}>
            {project.name}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function ImportPage() {
  const api = useApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const teamId = useSelectedTeamId();
  const teamPath = useTeamPath();
  const [source, setSource] = useState<Source>('https');
  const [common, setCommon] = useState<CommonFields>({ name: '', projectId: '', fullIngestion: true });
  const [https, setHttps] = useState(emptyHttps);
  const [s3, setS3] = useState(emptyS3);

  const submit = useMutation({
    mutationFn: async () => {
      const team = teamId === undefined ? {} : { selectTeamId: teamId };
      const body = {
        name: common.name,
        ...(common.projectId === '' ? {} : { projectId: common.projectId }),
      };
      if (source === 'https') {
        const crc32c = https.crc32c.trim() === '' ? {} : { crc32c: parseCrc32c(https.crc32c) ?? https.crc32c };
        const connections =
          https.connections.trim() === '' ? {} : { maxConcurrentConnections: Number(https.connections) };
        return call(
          api.POST('/api/v1/videos/in/https', {
            // A CRC32C that is not a number goes as typed, so the API says what is wrong with it.
            params: {
              query: {
                ...team,
                fullIngestion: common.fullIngestion,
                ...(crc32c as { crc32c?: number }),
                ...connections,
              },
            },
            body: { ...body, url: https.url },
          }),
        );
      }
      return call(
        api.POST('/api/v1/videos/in/s3', {
          params: { query: { ...team, fullIngestion: common.fullIngestion } },
          body: {
            ...body,
            objectKey: s3.objectKey,
            s3Bucket: {
              bucket: s3.bucket,
              accessKey: s3.accessKey,
              secretAccessKey: s3.secretAccessKey,
              ...(s3.endpoint.trim() === '' ? {} : { endpoint: s3.endpoint.trim() }),
              ...(s3.region.trim() === '' ? {} : { region: s3.region.trim() }),
            },
          },
        }),
      );
    },
    onSuccess: async (created) => {
      await queryClient.invalidateQueries({ queryKey: queryKeys.videoLists });
      void navigate(teamPath('/videos'), { state: { created: created.videoId } });
    },
  });

  const error = submit.error instanceof ApiError ? submit.error : null;
  const fieldError = (field: string) => error?.fieldMessage(field) ?? null;
  const otherErrors = error === null ? [] : error.validationErrors.filter((item) => !shownFields.has(item.field));

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    submit.mutate();
  }

  return (
    <section>
      <PageTitle>Import a video</PageTitle>
      <div className={styles.sources} role="group" aria-label="Import from">
        {(['https', 's3'] as const).map((value) => (
          <button
            key={value}
            type="button"
            aria-pressed={source === value}
            className={source === value ? 'primary' : undefined}
            onClick={() => {
              setSource(value);
              submit.reset();
            }}
          >
            {value === 'https' ? 'HTTPS URL' : 'S3 object'}
          </button>
        ))}
      </div>
      <form
        className={styles.form}
        onSubmit={onSubmit}
        noValidate
        aria-label={source === 'https' ? 'Import from an HTTPS URL' : 'Import from S3'}
      >
        <Field label="Name" error={fieldError('name')}>
          <input
            name="name"
            value={common.name}
            onChange={(event) => setCommon({ ...common, name: event.target.value })}
            required
          />
        </Field>
        {source === 'https' ? (
          <>
            <Field label="HTTPS URL" error={fieldError('url')} hint="The server must answer range requests.">
              <input
                name="url"
                type="url"
                inputMode="url"
                value={https.url}
                onChange={(event) => setHttps({ ...https, url: event.target.value })}
                placeholder="https://media.example.com/master.mov"
                required
              />
            </Field>
            <div className={styles.row}>
              <Field
                label="CRC32C (optional)"
                error={fieldError('crc32c')}
                hint="A decimal number, or hex with 0x: the copy is checked against it."
              >
                <input
                  name="crc32c"
                  value={https.crc32c}
                  onChange={(event) => setHttps({ ...https, crc32c: event.target.value })}
                />
              </Field>
              <Field label="Connections" error={fieldError('maxConcurrentConnections')} hint="1 to 20; default 10.">
                <input
                  name="maxConcurrentConnections"
                  type="number"
                  min={1}
                  max={20}
                  value={https.connections}
                  onChange={(event) => setHttps({ ...https, connections: event.target.value })}
                />
              </Field>
            </div>
          </>
        ) : (
          <>
            <div className={styles.row}>
              <Field label="Bucket" error={fieldError('s3Bucket.bucket') ?? fieldError('s3Bucket')}>
                <input
                  name="bucket"
                  value={s3.bucket}
                  onChange={(event) => setS3({ ...s3, bucket: event.target.value })}
                />
              </Field>
              <Field label="Object key" error={fieldError('objectKey')}>
                <input
                  name="objectKey"
                  value={s3.objectKey}
                  onChange={(event) => setS3({ ...s3, objectKey: event.target.value })}
                />
              </Field>
            </div>
            <div className={styles.row}>
              <Field label="Access key" error={fieldError('s3Bucket.accessKey')}>
                <input
                  name="accessKey"
                  autoComplete="off"
                  value={s3.accessKey}
                  onChange={(event) => setS3({ ...s3, accessKey: event.target.value })}
                />
              </Field>
              <Field label="Secret access key" error={fieldError('s3Bucket.secretAccessKey')}>
                <input
                  name="secretAccessKey"
                  type="password"
                  autoComplete="off"
                  value={s3.secretAccessKey}
                  onChange={(event) => setS3({ ...s3, secretAccessKey: event.target.value })}
                />
              </Field>
            </div>
            <div className={styles.row}>
              <Field
                label="Endpoint (optional)"
                error={fieldError('s3Bucket.endpoint')}
                hint="A self-hosted S3 service the operator allowed; empty: AWS."
              >
                <input
                  name="endpoint"
                  type="url"
                  value={s3.endpoint}
                  onChange={(event) => setS3({ ...s3, endpoint: event.target.value })}
                />
              </Field>
              <Field label="Region (optional)" error={fieldError('s3Bucket.region')}>
                <input
                  name="region"
                  value={s3.region}
                  onChange={(event) => setS3({ ...s3, region: event.target.value })}
                />
              </Field>
            </div>
          </>
        )}
        <ProjectSelect
          value={common.projectId}
          onChange={(projectId) => setCommon({ ...common, projectId })}
          error={fieldError('projectId')}
        />
        <Field
          label="Full ingestion"
          inline
          error={null}
          hint="Thumbnails, a poster, full frames, a web video and a quality assessment once the copy is done."
        >
          <input
            type="checkbox"
            name="fullIngestion"
            checked={common.fullIngestion}
            onChange={(event) => setCommon({ ...common, fullIngestion: event.target.checked })}
          />
        </Field>
        {submit.error !== null && (error === null || error.validationErrors.length === 0 || otherErrors.length > 0) ? (
          <ErrorDisplay error={submit.error} title="The import was refused" />
        ) : null}
        {otherErrors.length > 0 ? (
          <ul className={styles.otherErrors}>
            {otherErrors.map((item) => (
              <li key={item.field}>
                <code>{item.field}</code>: {item.message}
              </li>
            ))}
          </ul>
        ) : null}
        <div>
          <button type="submit" className="primary" disabled={submit.isPending}>
            {submit.isPending ? 'Importing…' : 'Import'}
          </button>
        </div>
      </form>
    </section>
  );
}

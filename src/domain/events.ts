/**
 * The event types of the contract. Every stage transition of a video records one of these in the
 * same transaction as the transition (the outbox), so webhooks can deliver it later.
 */
const stages = [
  'video_in',
  'video_in_ingestion',
  'clip_processing',
  'clip_ingestion',
  'video_processing',
  'video_processing_ingestion',
  'video_out',
] as const;
const outcomes = ['started', 'done', 'failed'] as const;

export type EventStage = (typeof stages)[number];
export type EventType = `${EventStage}.${(typeof outcomes)[number]}` | 'video.deleted';

export const eventTypes: readonly EventType[] = [
  ...stages.flatMap((stage) => outcomes.map((outcome) => `${stage}.${outcome}` as EventType)),
  'video.deleted',
];

/**
 * Projects group a team's videos. Every team has a default project, which cannot be deleted, and a
 * project that still holds videos cannot be deleted either.
 */
import { AppError } from '../domain/errors.js';
import type { Database } from '../db/database.js';
import type { Page, PageRequest } from '../domain/paging.js';
import {
  countVideosInProject,
  deleteProject,
  findDefaultProject,
  findProject,
  insertProject,
  listProjects,
  renameProject,
  type ProjectRow,
} from '../db/queries/projects.queries.js';

import { ownerTeam, teamIdsOf, type TeamScope } from './tenancy.service.js';

export type { ProjectRow };

export class ProjectService {
  constructor(private readonly db: Database) {}

  create(teamId: string, name: string): Promise<ProjectRow> {
    return insertProject(this.db, teamId, name);
  }

  list(teamId: string, page: PageRequest): Promise<Page<ProjectRow>> {
    return listProjects(this.db, teamId, page);
  }

  /** A project of a team in `scope`; 404 elsewhere, 403 in a team of the caller's without API access. */
  async get(scope: TeamScope, projectId: string): Promise<ProjectRow> {
    const row = await findProject(this.db, teamIdsOf(scope), projectId);
    if (row === null) throw new AppError('RESOURCE_NOT_FOUND', `project ${projectId} was not found`, { projectId });
    ownerTeam(scope, row.teamId);
    return row;
  }

  async getDefault(teamId: string): Promise<ProjectRow> {
    const row = await findDefaultProject(this.db, teamId);
    if (row === null) throw new AppError('RESOURCE_NOT_FOUND', `team ${teamId} has no default project`, { teamId });
    return row;
  }

  async rename(scope: TeamScope, projectId: string, name: string): Promise<ProjectRow> {
    const { teamId } = await this.get(scope, projectId);
    const row = await renameProject(this.db, teamId, projectId, name);
    if (row === null) throw new AppError('RESOURCE_NOT_FOUND', `project ${projectId} was not found`, { projectId });
    return row;
  }

  async delete(scope: TeamScope, projectId: string): Promise<void> {
    const row = await this.get(scope, projectId);
    if (row.isDefault) throw new AppError('CONFLICT', 'the default project of a team cannot be deleted', { projectId });
    const videoCount = await countVideosInProject(this.db, projectId);
    if (videoCount > 0) {
      throw new AppError(
        'PROJECT_WITH_VIDEOS_CANNOT_BE_DELETED',
        `project ${projectId} still holds ${videoCount} video(s): delete or move them first`,
        { projectId, videoCount },
      );
    }
    await deleteProject(this.db, row.teamId, projectId);
  }
}

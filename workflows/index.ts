/** The worker's workflowsPath: every workflow type the project registers. */
export { syncPipeline } from './sync-pipeline';

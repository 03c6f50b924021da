import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes, registered by `npm run temporal` and the test servers. */
export const SA_PIPELINE = defineSearchAttributeKey('SyncPipeline', SearchAttributeType.KEYWORD);
export const SA_ENTITY = defineSearchAttributeKey('SyncEntity', SearchAttributeType.KEYWORD);
export const SA_STATUS = defineSearchAttributeKey('SyncStatus', SearchAttributeType.KEYWORD);
export const SA_RECORDS_READ = defineSearchAttributeKey('SyncRecordsRead', SearchAttributeType.INT);

export const SEARCH_ATTRIBUTES = [SA_PIPELINE, SA_ENTITY, SA_STATUS, SA_RECORDS_READ] as const;

/** `Name=Type` pairs for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_FLAGS: readonly string[] = [
  'SyncPipeline=Keyword',
  'SyncEntity=Keyword',
  'SyncStatus=Keyword',
  'SyncRecordsRead=Int',
];

/**
 * Section 12: permessage-deflate (RFC 7692) with the default offer, over five kinds of data (12.1 a
 * JSON document, 12.2 a bitmap picture, 12.3 German verse, 12.4 an HTML document, 12.5 a PDF), each
 * with Autobahn's 18 message series: 1000 compressed messages of 16 to 131072 octets, whole or
 * auto-fragmented, each echoed and checked before the next. The data sets are generated (see
 * compression-data.ts), not Autobahn's files.
 */
import type { CaseDefinition } from '../case.js';
import { DEFAULT_OFFER, acceptPolicy, compressionCases } from './compression-case.js';
import { TEST_DATA } from './compression-data.js';

export const section12: CaseDefinition[] = TEST_DATA.flatMap((data, index) =>
  compressionCases(`12.${index + 1}`, data, {
    offers: [DEFAULT_OFFER],
    accept: acceptPolicy(false, 0),
    description: 'Use default permessage-deflate offer (as a server: accept the first offer as it is).',
  }),
);

/**
 * Section 13: permessage-deflate (RFC 7692) parameters. The JSON data set of 12.1 and the same 18
 * message series, under seven negotiations: as the client we send the offers below; as the server we
 * answer the client's offers with the policy below (requesting client_no_context_takeover and/or a
 * client_max_window_bits window of 9 or 15, as Autobahn's accept1 to accept7 do).
 */
import type { CaseDefinition } from '../case.js';
import { formatOffers, type DeflateOffer, type DeflateResponse } from '../deflate.js';
import { DEFAULT_OFFER, acceptPolicy, compressionCases, firstAccepting } from './compression-case.js';
import { JSON_DATA } from './compression-data.js';

const NO_TAKEOVER: DeflateOffer = { ...DEFAULT_OFFER, serverNoContextTakeover: true };

const SUBSECTIONS: ReadonlyArray<{
  readonly offers: readonly DeflateOffer[];
  readonly accept: (offers: readonly DeflateOffer[]) => DeflateResponse | null;
  readonly policy: string;
}> = [
  { offers: [DEFAULT_OFFER], accept: acceptPolicy(false, 0), policy: 'accept the first offer as it is' },
  { offers: [NO_TAKEOVER], accept: acceptPolicy(true, 0), policy: 'request client_no_context_takeover' },
  { offers: [{ ...DEFAULT_OFFER, serverMaxWindowBits: 9 }], accept: acceptPolicy(false, 9), policy: 'request client_max_window_bits=9' },
  { offers: [{ ...DEFAULT_OFFER, serverMaxWindowBits: 15 }], accept: acceptPolicy(false, 15), policy: 'request client_max_window_bits=15' },
  { offers: [{ ...NO_TAKEOVER, serverMaxWindowBits: 9 }], accept: acceptPolicy(true, 9), policy: 'request client_no_context_takeover and client_max_window_bits=9' },
  { offers: [{ ...NO_TAKEOVER, serverMaxWindowBits: 15 }], accept: acceptPolicy(true, 15), policy: 'request client_no_context_takeover and client_max_window_bits=15' },
  {
    offers: [{ ...NO_TAKEOVER, serverMaxWindowBits: 9 }, NO_TAKEOVER, DEFAULT_OFFER],
    accept: firstAccepting(acceptPolicy(true, 9), acceptPolicy(true, 0), acceptPolicy(false, 0)),
    policy: 'request client_no_context_takeover and client_max_window_bits=9, else client_no_context_takeover, else accept as it is',
  },
];

export const section13: CaseDefinition[] = SUBSECTIONS.flatMap(({ offers, accept, policy }, index) =>
  compressionCases(`13.${index + 1}`, JSON_DATA, {
    offers,
    accept,
    description: `Use permessage-deflate offers "${formatOffers(offers)}" (as a server: ${policy}).`,
  }),
);

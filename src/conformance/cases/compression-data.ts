/**
 * Test data for the permessage-deflate sections (12 and 13). The Autobahn|Testsuite sends slices of
 * five files it ships (a JSON report, a 512x512 grey-scale bitmap, Goethe's Faust from Project
 * Gutenberg, an HTML report, a PDF). We do not ship those files: each data set here is generated
 * instead, deterministically from a seeded PRNG, of the same kind (so it compresses alike) and of
 * exactly the same size in octets. The generators run once, on first use.
 *
 * Text data sets are JavaScript strings of BMP characters only, so that a slice of N UTF-16 units is
 * a slice of N characters, as Autobahn cuts its text (by characters, not octets).
 */

export interface TestData {
  readonly key: string;
  /** What it is, for case descriptions. */
  readonly description: string;
  /** Sent as binary messages (text data sets are sent as text, sliced by characters). */
  readonly binary: boolean;
  /** Its size in octets (UTF-8 for text). */
  readonly size: number;
  /** The Autobahn test file it stands in for. */
  readonly replaces: string;
  /** The data: a string of BMP characters for text, octets for binary. */
  content(): string | Buffer;
}

/** A small, fast PRNG (xorshift32 with a splitmix-style seed scramble): the same sequence everywhere. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    let s = (seed ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (s ^ (s >>> 16)) >>> 0 || 1;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  fill(buffer: Buffer, start = 0, end = buffer.length): Buffer {
    let i = start;
    for (; i + 4 <= end; i += 4) buffer.writeUInt32LE(this.next(), i);
    for (; i < end; i++) buffer[i] = this.next() & 0xff;
    return buffer;
  }
}

/** Append pieces up to an exact octet size; `fits` says whether a piece (plus what must follow) still fits. */
class Writer {
  private readonly parts: string[] = [];
  octets = 0;

  constructor(private readonly size: number) {}

  fits(piece: string, reserve = 0): boolean {
    return this.octets + Buffer.byteLength(piece, 'utf8') + reserve <= this.size;
  }

  add(piece: string): void {
    this.parts.push(piece);
    this.octets += Buffer.byteLength(piece, 'utf8');
  }

  get remaining(): number {
    return this.size - this.octets;
  }

  text(): string {
    return this.parts.join('');
  }
}

// --- a JSON report (stands in for data1.json: an Autobahn results index, ASCII) --------------------

const BEHAVIORS = ['OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'NON-STRICT', 'FAILED', 'INFORMATIONAL', 'UNIMPLEMENTED'];
const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'to', 'vak', 'sel', 'dor', 'fen', 'ix', 'ul', 'bra', 'cho', 'nim', 'qua', 'zet'];

function agentName(rng: Prng): string {
  let name = '';
  for (let i = rng.between(2, 4); i > 0; i--) name += rng.pick(SYLLABLES);
  name = name[0]!.toUpperCase() + name.slice(1);
  return `${name}${rng.pick(['', 'WS', 'Socket', 'Web'])}/${rng.between(0, 4)}.${rng.between(0, 19)}.${rng.between(0, 9)}`;
}

/** Case ids in suite order, as an Autobahn report lists them. */
function* caseIds(rng: Prng): Generator<string> {
  for (let section = 1; ; section++) {
    const subsections = rng.between(0, 3) === 0 ? 0 : rng.between(2, 7);
    if (subsections === 0) {
      for (let n = 1, count = rng.between(5, 40); n <= count; n++) yield `${section}.${n}`;
      continue;
    }
    for (let sub = 1; sub <= subsections; sub++) for (let n = 1, count = rng.between(3, 25); n <= count; n++) yield `${section}.${sub}.${n}`;
  }
}

function jsonReport(size: number): string {
  const rng = new Prng(0x4a534f4e);
  const out = new Writer(size);
  const agentClose = '\n   }';
  const documentClose = '\n}';
  out.add('{\n');
  let firstAgent = true;
  for (;;) {
    const agent = agentName(rng);
    const head = `${firstAgent ? '' : ',\n'}   "${agent}": {\n`;
    if (!out.fits(head, agentClose.length + documentClose.length + 200)) break;
    out.add(head);
    firstAgent = false;
    const slug = agent.toLowerCase().replace(/[^a-z0-9]+/g, '_');
    let first = true;
    let full = false;
    const ids = caseIds(rng);
    for (let n = rng.between(80, 400); n > 0; n--) {
      const id = ids.next().value as string;
      const behavior = rng.pick(BEHAVIORS);
      const closeBehavior = behavior === 'FAILED' && rng.chance(0.5) ? 'FAILED' : behavior === 'UNIMPLEMENTED' ? 'UNIMPLEMENTED' : 'OK';
      const code = rng.chance(0.9) ? 1000 : rng.pick([1001, 1002, 1007, 1011]);
      const entry =
        `${first ? '' : ',\n'}      "${id}": {\n` +
        `         "behavior": "${behavior}",\n` +
        `         "behaviorClose": "${closeBehavior}",\n` +
        `         "duration": ${rng.chance(0.8) ? rng.between(0, 20) : rng.between(21, 4000)},\n` +
        `         "remoteCloseCode": ${behavior === 'UNIMPLEMENTED' ? 'null' : code},\n` +
        `         "reportfile": "${slug}_case_${id.replace(/\./g, '_')}.json"\n` +
        '      }';
      if (!out.fits(entry, agentClose.length + documentClose.length)) {
        full = true;
        break;
      }
      out.add(entry);
      first = false;
    }
    out.add(agentClose);
    if (full) break;
  }
  // Whitespace between tokens pads the document to the exact size.
  out.add(' '.repeat(out.remaining - documentClose.length) + documentClose);
  return out.text();
}

// --- a grey-scale bitmap (stands in for lena512.bmp: 512x512, 8 bits, BMP) --------------------------

function greyBitmap(size: number): Buffer {
  const rng = new Prng(0x424d5035);
  const width = 512;
  const height = 512;
  const paletteOffset = 14 + 40;
  const pixelOffset = paletteOffset + 256 * 4;
  const bmp = Buffer.alloc(pixelOffset + width * height);
  if (bmp.length !== size) throw new Error(`bitmap size ${bmp.length}, expected ${size}`);
  // BITMAPFILEHEADER and BITMAPINFOHEADER.
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(bmp.length, 2);
  bmp.writeUInt32LE(pixelOffset, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(width, 18);
  bmp.writeInt32LE(height, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(8, 28);
  bmp.writeUInt32LE(width * height, 34);
  bmp.writeUInt32LE(256, 46);
  for (let i = 0; i < 256; i++) bmp.fill(i, paletteOffset + i * 4, paletteOffset + i * 4 + 3);
  // A smooth picture: lit background, soft blobs and a texture, with sensor-like noise.
  const blobs = Array.from({ length: 24 }, () => ({
    x: rng.below(width),
    y: rng.below(height),
    r: rng.between(20, 140),
    v: rng.between(-60, 60),
  }));
  const fx = 8 + rng.below(30);
  const fy = 8 + rng.below(30);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 64 + (x + y) * 0.12 + 24 * Math.sin(x / fx) * Math.cos(y / fy);
      for (const b of blobs) {
        const dx = x - b.x;
        const dy = y - b.y;
        v += b.v * Math.exp(-(dx * dx + dy * dy) / (2 * b.r * b.r));
      }
      v += (rng.next() & 31) - 15.5;
      bmp[pixelOffset + y * width + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return bmp;
}

// --- German verse (stands in for pg2229.txt, Goethe's Faust I: UTF-8 text sent as binary) ----------

const WORDS = (
  'und der die das ich du er sie es wir ihr mit nicht ist war sich auf in zu den dem ein eine ' +
  'mein dein sein kein was wie wo wenn doch noch schon nur auch so da hier dort nun ' +
  'Herz Welt Geist Nacht Licht Traum Himmel Erde Wald Feld Stern Mond Sonne Feuer Wasser Luft ' +
  'Zeit Stunde Tag Jahr Lied Wort Buch Freund Bruder Mutter Kind Haus Tür Fenster Weg Berg Tal ' +
  'Seele Glück Schmerz Liebe Freude Sehnsucht Ruhe Kraft Macht Grund Natur Wissen Leben Tod ' +
  'Schüler Größe Mädchen Grüße Bäume Brüder Wünsche Träume Flüsse Vögel Blüte Mühe Süße Güte ' +
  'gehen kommen sehen hören sprechen fühlen denken wissen glauben lieben leben sterben suchen ' +
  'finden tragen halten geben nehmen bleiben steigen fallen singen klingen dringen schweben ' +
  'führen über für müde schön weiß groß süß heiß stumm still laut hell dunkel fern nah tief hoch ' +
  'ewig leise wahr klar alt jung arm reich froh bang wild sanft kühn trüb öde grün golden ' +
  'wär hätt möcht könnt müßt dürft spräch ließ hieß fließt grüßt schließt genießt'
).split(' ');
const SPEAKERS = ['DER WANDERER', 'DIE STIMME', 'ERSTER GESELLE', 'ZWEITER GESELLE', 'DER ALTE', 'DIE MAGD', 'CHOR', 'DER FREMDE', 'DIE NACHBARIN'];
const ENDINGS = [',', ',', ',', ';', '.', '.', '!', '?', ':'];

function verseLine(rng: Prng): string {
  const words: string[] = [];
  for (let n = rng.between(4, 9); n > 0; n--) words.push(rng.pick(WORDS));
  const first = words[0]!;
  words[0] = first[0]!.toUpperCase() + first.slice(1);
  return `  ${words.join(' ')}${rng.pick(ENDINGS)}\n`;
}

function germanVerse(size: number): Buffer {
  const rng = new Prng(0x46415553);
  const out = new Writer(size);
  out.add('Die Wanderung\n\nEin Spiel in Versen\n\n\n');
  for (;;) {
    let block = `${rng.pick(SPEAKERS)}:\n`;
    if (rng.chance(0.2)) block += `  (${rng.pick(['er', 'sie', 'alle'])} ${rng.pick(['tritt ans Fenster', 'setzt sich nieder', 'geht ab', 'schweigt lange', 'blickt empor'])}.)\n`;
    for (let n = rng.between(2, 14); n > 0; n--) block += verseLine(rng);
    block += '\n';
    if (!out.fits(block)) break;
    out.add(block);
  }
  while (out.remaining > 0) {
    const line = verseLine(rng);
    if (!out.fits(line)) break;
    out.add(line);
  }
  out.add('\n'.repeat(out.remaining));
  return Buffer.from(out.text(), 'utf8');
}

// --- an HTML report (stands in for data1.html: an Autobahn results page, UTF-8) --------------------

const CSS_PROPERTIES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['color', ['#333', '#444', '#fff', '#000', '#0a0', '#900']],
  ['background-color', ['#F4F4F4', '#e0e0e0', '#fff', '#0a0', '#900', '#ff0']],
  ['font-family', ['Segoe UI,Tahoma,Arial,Verdana,sans-serif', 'Cambria,serif', 'Consolas,monospace']],
  ['font-size', ['0.8em', '1.1em', '1.2em', '12px', '14px']],
  ['padding', ['2px', '4px', '16px', '4px 8px']],
  ['margin', ['0', '20px', '10px 0']],
  ['border', ['1px solid #aaa', 'none', '1px solid #ccc']],
  ['border-radius', ['4px', '10px']],
  ['text-align', ['left', 'center', 'right']],
  ['white-space', ['pre-wrap', 'nowrap']],
];
const CSS_SELECTORS = ['body', 'p#intro', 'p#intro a', '.block', 'p.case_text_block', 'table', 'td.case', 'td.case_ok', 'td.case_failed', 'td.case_non_strict', 'td.close', 'span.case_duration', 'pre.wirelog', 'tr.agent_case_result_row', 'h1', 'h2', 'a:visited'];
const VERDICT_CELLS: ReadonlyArray<readonly [string, string]> = [
  ['case_ok', 'Pass'],
  ['case_ok', 'Pass'],
  ['case_ok', 'Pass'],
  ['case_ok', 'Pass'],
  ['case_non_strict', 'Non-Strict'],
  ['case_failed', 'Fail'],
  ['case_info', 'Info'],
];
const DESCRIPTIONS = [
  'Send text message with payload of length %n.',
  'Send binary message in %n fragments of %m octets each.',
  'Send a valid UTF-8 text message in one fragment.<br><br>MESSAGE:<br>Grüße-µ@ßöäüàá-κόσμε!',
  'Send ping with payload of %n octets, then a text message.',
  'Send close with close code %c and a reason of %n octets.',
  'Send %n compressed messages each of payload size %m, auto-fragment to 0 octets.',
];

function htmlReport(size: number): string {
  const rng = new Prng(0x48544d4c);
  const out = new Writer(size);
  const tail = '\n   </body>\n</html>\n';
  out.add('<!DOCTYPE html>\n<html>\n   <head>\n      <meta charset="utf-8" />\n      <style lang="css">\n');
  for (const selector of CSS_SELECTORS) {
    let rule = `${selector} {\n`;
    for (let n = rng.between(1, 5); n > 0; n--) {
      const [property, values] = rng.pick(CSS_PROPERTIES);
      rule += `   ${property}: ${rng.pick(values)};\n`;
    }
    out.add(`${rule}}\n\n`);
  }
  out.add('      </style>\n   </head>\n   <body>\n      <h1>WebSocket Protocol Test Report</h1>\n');
  out.add('      <p id="intro">Test results of the clients and servers below, case by case; click a verdict for its details.</p>\n');
  const ids = caseIds(rng);
  const rows: string[] = [];
  const texts: string[] = [];
  for (let generated = 0; generated < size * 1.1; generated += Buffer.byteLength(rows.at(-1)!) + Buffer.byteLength(texts.at(-1)!)) {
    const id = ids.next().value as string;
    const anchor = id.replace(/\./g, '_');
    const [css, verdict] = rng.pick(VERDICT_CELLS);
    const ms = rng.between(1, 900);
    rows.push(
      '         <tr class="agent_case_result_row">\n' +
        `            <td class="case"><a href="#case_desc_${anchor}">Case ${id}</a></td>\n` +
        `            <td class="${css}"><a href="agent_case_${anchor}.html">${verdict}</a><br/><span class="case_duration">${ms} ms</span></td>` +
        `<td class="close close_hide ${css}"><span class="close_code">${rng.chance(0.9) ? 1000 : 1002}</span></td>\n` +
        '         </tr>\n',
    );
    const description = rng
      .pick(DESCRIPTIONS)
      .replace('%n', String(rng.between(0, 65536)))
      .replace('%m', String(rng.between(1, 4096)))
      .replace('%c', String(rng.pick([1000, 1001, 1002, 1003, 1007, 3000, 4999])));
    texts.push(
      `      <div class="case_text_block" id="case_desc_${anchor}">\n` +
        `         <p class="case_id">Case ${id}</p>\n` +
        `         <p class="case_descr"><b>Description</b><br/>${description}</p>\n` +
        `         <p class="case_expect"><b>Expectation</b><br/>${rng.pick(['Receive echo\'ed message.', 'Clean close with normal code.', 'The connection is failed immediately.', 'Receive pong with the same payload.'])}</p>\n` +
        '      </div>\n',
    );
  }
  // The table, then the descriptions, as far as they fit; newlines pad to the exact size.
  const tableHead = '      <table>\n';
  const tableTail = '      </table>\n';
  out.add(tableHead);
  let r = 0;
  while (r < rows.length && out.fits(rows[r]!, tableTail.length + tail.length + (size >> 2))) out.add(rows[r++]!);
  out.add(tableTail);
  for (let t = 0; t < r && out.fits(texts[t]!, tail.length); t++) out.add(texts[t]!);
  out.add('\n'.repeat(out.remaining - tail.length) + tail);
  return out.text();
}

// --- a PDF (stands in for a 1 MB scientific paper: mostly deflated, incompressible streams) --------

const PDF_WORDS = 'the of a message frame server client window compression sliding dictionary payload octets latency throughput protocol measure result figure table section we show that in this paper'.split(' ');

function pdfDocument(size: number): Buffer {
  const rng = new Prng(0x25504446);
  const chunks: Buffer[] = [];
  let length = 0;
  const add = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    chunks.push(bytes);
    length += bytes.length;
  };
  const trailer = (objects: number): string => `trailer\n<</Size ${objects}/Root 1 0 R/Info 2 0 R>>\n%%EOF\n`;
  add('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n');
  add('1 0 obj\n<</Type/Catalog/Pages 3 0 R>>\nendobj\n');
  add('2 0 obj\n<</Producer(fullduplex conformance data)/Title(Generated test document)>>\nendobj\n');
  let object = 4;
  const fonts = ['Times-Roman', 'Times-Bold', 'Times-Italic', 'Helvetica', 'Courier', 'Symbol'];
  // Objects until about 40 kB are left: streams (the bulk), pages and fonts.
  while (size - length > 40_000) {
    const kind = rng.below(10);
    if (kind < 4) {
      const streamLength = Math.min(rng.between(1_500, 48_000), size - length - 40_000);
      add(`${object} 0 obj\n<</Length ${streamLength}/Filter /FlateDecode>>\nstream\n`);
      add(rng.fill(Buffer.allocUnsafe(streamLength)));
      add('\nendstream\nendobj\n');
    } else if (kind < 7) {
      // An uncompressed content stream: text-showing operators, which compress well.
      let content = '';
      for (let n = rng.between(40, 400); n > 0; n--) {
        const words: string[] = [];
        for (let w = rng.between(3, 12); w > 0; w--) words.push(rng.pick(PDF_WORDS));
        content += `BT /F${rng.between(1, 6)} ${rng.pick([9, 10, 12])} Tf ${rng.between(50, 120)} ${rng.between(40, 760)} Td (${words.join(' ')}) Tj ET\n`;
      }
      const bytes = Buffer.from(content.slice(0, Math.max(0, size - length - 40_000)), 'latin1');
      add(`${object} 0 obj\n<</Length ${bytes.length}>>\nstream\n`);
      add(bytes);
      add('\nendstream\nendobj\n');
    } else if (kind < 9) {
      add(`${object} 0 obj\n<</Type/Page/Parent 3 0 R/Resources ${object + 1} 0 R/Contents ${object - 1} 0 R/MediaBox[0 0 612 792]>>\nendobj\n`);
    } else {
      add(`${object} 0 obj\n<</Type/Font/Subtype/Type1/BaseFont/${rng.pick(fonts)}/Encoding/WinAnsiEncoding>>\nendobj\n`);
    }
    object++;
  }
  add(`3 0 obj\n<</Type/Pages/Count ${Math.max(1, object >> 3)}>>\nendobj\n`);
  // One last stream fills all but the trailer and a padding comment.
  const last = size - length - trailer(object + 1).length - 200;
  add(`${object} 0 obj\n<</Length ${last}/Filter /FlateDecode>>\nstream\n`);
  add(rng.fill(Buffer.allocUnsafe(last)));
  add('\nendstream\nendobj\n');
  const end = trailer(object + 1);
  add(`%${' '.repeat(size - length - end.length - 2)}\n`);
  add(end);
  const pdf = Buffer.concat(chunks);
  if (pdf.length !== size) throw new Error(`PDF size ${pdf.length}, expected ${size}`);
  return pdf;
}

// --- the data sets ---------------------------------------------------------------------------------

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function check(key: string, size: number, make: () => string | Buffer): () => string | Buffer {
  return lazy(() => {
    const data = make();
    const octets = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
    if (octets !== size) throw new Error(`test data ${key}: ${octets} octets, expected ${size}`);
    return data;
  });
}

function dataSet(key: string, description: string, binary: boolean, size: number, replaces: string, make: (size: number) => string | Buffer): TestData {
  return { key, description, binary, size, replaces, content: check(key, size, () => make(size)) };
}

export const JSON_DATA = dataSet('json_data1', 'a large JSON document (a test report index)', false, 194_056, 'data1.json', jsonReport);
export const BITMAP_DATA = dataSet('lena512', 'a 512x512 grey-scale bitmap picture', true, 263_222, 'lena512.bmp', greyBitmap);
export const VERSE_DATA = dataSet('gutenberg_faust', 'human-readable German verse, UTF-8', true, 222_218, "pg2229.txt (Goethe's Faust I)", germanVerse);
export const HTML_DATA = dataSet('html_data1', 'a large HTML document (a test report page)', false, 263_647, 'data1.html', htmlReport);
export const PDF_DATA = dataSet('ooms', 'a larger PDF document (mostly compressed streams)', true, 1_042_328, '10.1.1.105.5439.pdf', pdfDocument);

/** In Autobahn's order of subsections 12.1 to 12.5. */
export const TEST_DATA: readonly TestData[] = [JSON_DATA, BITMAP_DATA, VERSE_DATA, HTML_DATA, PDF_DATA];

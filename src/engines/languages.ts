// Whisper's verbose_json names the language in English ("english"); results carry ISO 639-1 codes ("en").
const CODES: Record<string, string> = {
  afrikaans: 'af', albanian: 'sq', amharic: 'am', arabic: 'ar', armenian: 'hy', assamese: 'as', azerbaijani: 'az',
  bashkir: 'ba', basque: 'eu', belarusian: 'be', bengali: 'bn', bosnian: 'bs', breton: 'br', bulgarian: 'bg',
  burmese: 'my', catalan: 'ca', chinese: 'zh', croatian: 'hr', czech: 'cs', danish: 'da', dutch: 'nl', english: 'en',
  estonian: 'et', faroese: 'fo', finnish: 'fi', french: 'fr', galician: 'gl', georgian: 'ka', german: 'de', greek: 'el',
  gujarati: 'gu', haitian: 'ht', 'haitian creole': 'ht', hausa: 'ha', hawaiian: 'haw', hebrew: 'he', hindi: 'hi',
  hungarian: 'hu', icelandic: 'is', indonesian: 'id', italian: 'it', japanese: 'ja', javanese: 'jw', kannada: 'kn',
  kazakh: 'kk', khmer: 'km', korean: 'ko', lao: 'lo', latin: 'la', latvian: 'lv', lingala: 'ln', lithuanian: 'lt',
  luxembourgish: 'lb', macedonian: 'mk', malagasy: 'mg', malay: 'ms', malayalam: 'ml', maltese: 'mt', maori: 'mi',
  marathi: 'mr', mongolian: 'mn', nepali: 'ne', norwegian: 'no', nynorsk: 'nn', occitan: 'oc', pashto: 'ps',
  persian: 'fa', polish: 'pl', portuguese: 'pt', punjabi: 'pa', romanian: 'ro', russian: 'ru', sanskrit: 'sa',
  serbian: 'sr', shona: 'sn', sindhi: 'sd', sinhala: 'si', slovak: 'sk', slovenian: 'sl', somali: 'so', spanish: 'es',
  sundanese: 'su', swahili: 'sw', swedish: 'sv', tagalog: 'tl', tajik: 'tg', tamil: 'ta', tatar: 'tt', telugu: 'te',
  thai: 'th', tibetan: 'bo', turkish: 'tr', turkmen: 'tk', ukrainian: 'uk', urdu: 'ur', uzbek: 'uz', vietnamese: 'vi',
  welsh: 'cy', yiddish: 'yi', yoruba: 'yo', cantonese: 'yue',
};

/** The ISO 639-1 code for a language name or code as an engine reports it; undefined when unknown. */
export function languageCode(reported: string): string | undefined {
  const name = reported.trim().toLowerCase();
  if (/^[a-z]{2,3}$/.test(name)) return name;
  const region = /^([a-z]{2,3})[-_][a-z0-9]+$/i.exec(name);
  if (region) return region[1];
  return CODES[name];
}

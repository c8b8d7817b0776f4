/** Container ids and names: random 64-hex ids, random `adjective_surname` names, name validation. */
import { randomBytes, randomInt } from 'node:crypto';
import { invalid } from '../../lib/index.js';

// Our own short lists (not Docker's): temperaments and scientists / engineers.
const ADJECTIVES = [
  'agile', 'amber', 'bold', 'brave', 'bright', 'calm', 'candid', 'cheerful', 'clever', 'cosmic',
  'crisp', 'curious', 'daring', 'deft', 'eager', 'earnest', 'fearless', 'fervent', 'gallant', 'gentle',
  'glad', 'graceful', 'hardy', 'humble', 'jolly', 'keen', 'kind', 'lively', 'loyal', 'lucid',
  'merry', 'mellow', 'nimble', 'noble', 'patient', 'placid', 'plucky', 'polite', 'proud', 'quick',
  'quiet', 'radiant', 'rapid', 'serene', 'sharp', 'sincere', 'snappy', 'steady', 'sturdy', 'sunny',
  'swift', 'tender', 'tidy', 'trusty', 'upbeat', 'valiant', 'vivid', 'warm', 'witty', 'zesty',
] as const;

const SURNAMES = [
  'ampere', 'avogadro', 'babbage', 'bardeen', 'bernoulli', 'bohr', 'boole', 'cantor', 'carnot', 'cauchy',
  'celsius', 'coulomb', 'dalton', 'dedekind', 'dirac', 'doppler', 'euclid', 'euler', 'faraday', 'fermat',
  'fourier', 'fresnel', 'galois', 'gauss', 'gibbs', 'hamilton', 'heaviside', 'hertz', 'hilbert', 'hooke',
  'huygens', 'jacobi', 'joule', 'kelvin', 'kepler', 'lagrange', 'laplace', 'legendre', 'leibniz', 'lorentz',
  'mach', 'maxwell', 'mendel', 'moseley', 'napier', 'newton', 'ohm', 'pascal', 'pauli', 'planck',
  'poisson', 'rayleigh', 'riemann', 'rontgen', 'stokes', 'tesla', 'volta', 'watt', 'weber', 'zeeman',
] as const;

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ID_RE = /^[0-9a-f]{64}$/;

export function randomId(): string {
  return randomBytes(32).toString('hex');
}

export function isFullId(s: string): boolean {
  return ID_RE.test(s);
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** `adjective_surname`; with `retry` > 0 a digit is appended (Docker does the same after collisions). */
export function randomName(retry = 0): string {
  const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
  return retry > 0 ? `${name}${randomInt(10)}` : name;
}

/** Validate a user-given container name; returns it without the leading slash. */
export function checkContainerName(op: string, name: string): string {
  if (!NAME_RE.test(name)) {
    throw invalid(op, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.startsWith('/') ? name.slice(1) : name;
}

/** Validate a volume name (Docker's local driver rule). */
export function checkVolumeName(op: string, name: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw invalid(op, `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  return name;
}

export const WORD_LISTS = { adjectives: ADJECTIVES, surnames: SURNAMES };

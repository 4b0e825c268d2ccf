export { seededRandom, seededFloats } from '../../src/util/random.ts';

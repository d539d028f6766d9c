import createError from '@fastify/error';

/** What user-service tells clients; TI_ERR_ codes keep their message even on a 5xx. */
export const userErrors = {
  UserExists: createError('TI_ERR_USER_EXISTS', 'Username %s is already taken', 409),
  UserNotFound: createError('TI_ERR_USER_NOT_FOUND', 'User %s not found', 404),
  InvalidCredentials: createError('TI_ERR_INVALID_CREDENTIALS', 'Invalid username or password', 401),
  DatabaseUnavailable: createError(
    'TI_ERR_DATABASE_UNAVAILABLE',
    'The user database cannot %s right now because %s; try again later',
    503,
  ),
};

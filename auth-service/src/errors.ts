import createError from '@fastify/error';

/** What auth-service tells clients; TI_ERR_ codes keep their message even on a 5xx. */
export const authErrors = {
  UserServiceUnavailable: createError(
    'TI_ERR_USER_SERVICE_UNAVAILABLE',
    'Login is unavailable right now because the user service %s; try again later',
    503,
  ),
};

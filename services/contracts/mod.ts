/**
 * The event contracts the services share: each service imports what it publishes or consumes
 * from here, so a payload's shape is written once.
 *
 * | stream      | types                                                         | published by |
 * | ----------- | ------------------------------------------------------------- | ------------ |
 * | `auth`      | `user.registered` (makes the user, at version 1, everywhere)  | Auth         |
 * | `users`     | `user.updated`                                                | Users        |
 * | `deletions` | `user.deleted`                                                | Users        |
 * | `groups`    | `group.created/updated/deleted`, `group.member_added/removed` | Users        |
 * | `posts`     | `post.created`, `post.deleted`                                | Posts        |
 * | `chat`      | `chat.message`                                                | Chat         |
 *
 * @module
 */
export { Name, UserRegistered } from "./auth.ts";
export { User, UserDeleted, userFromRegistration, UserUpdated, Version } from "./users.ts";
export {
  Group,
  GroupCreated,
  GroupDeleted,
  GroupUpdated,
  MemberAdded,
  MemberRemoved,
  Membership,
} from "./groups.ts";
export { MAX_POST_CHARS, Post, PostCreated, PostDeleted } from "./posts.ts";
export { ChatMessage, MAX_MESSAGE_CHARS, Message } from "./chat.ts";

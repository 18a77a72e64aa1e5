import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, Length } from 'class-validator';
import { API_KEY_SCOPES, type ApiKeyScope } from '@tidings/db';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci pipeline' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true, example: ['read', 'write'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(API_KEY_SCOPES.length)
  @IsIn(API_KEY_SCOPES, { each: true })
  scopes!: ApiKeyScope[];
}

/** Response shape of a listed or revoked key (documentation; the service returns `ApiKeyView`). */
export class ApiKeyDto {
  @ApiProperty({ example: 'key_jAEmsoD2OEU3' })
  id!: string;
  @ApiProperty({ example: 'ci pipeline' })
  name!: string;
  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true })
  scopes!: ApiKeyScope[];
  @ApiProperty({ example: 'tdk_jAEmsoD2OEU3', description: 'Public part of the key, safe to log' })
  prefix!: string;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt!: string | null;
}

/** A newly issued key: the only response that carries the key itself. */
export class IssuedApiKeyDto {
  @ApiProperty({ example: 'key_jAEmsoD2OEU3' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true })
  scopes!: ApiKeyScope[];
  @ApiProperty({ example: 'tdk_jAEmsoD2OEU3' })
  prefix!: string;
  @ApiProperty({ description: 'The key: `Authorization: Bearer <key>`. Shown once, never stored.' })
  key!: string;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] })
  data!: ApiKeyDto[];
}
